package metrics_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests run Supervisors; none of their goroutines may outlive a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
