package chaos

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// The binaries nstest.GoBuild built go with the run (WithBuilds).
func TestMain(m *testing.M) { goleak.VerifyTestMain(nstest.WithBuilds(m)) }
