//go:build !linux

package vigildcmd

import (
	"errors"

	"github.com/vigil-ha/vigil"
)

// Linux fails: vigild runs on Linux only.
func Linux(vigil.Config, BuildOptions) (Supervisor, error) {
	return nil, errors.New("vigild runs on Linux only")
}
