package config

import (
	"testing"

	"go.uber.org/goleak"
)

// LoadFile maps on a goroutine of its own and Read lexes on another:
// both must have ended when they return.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
