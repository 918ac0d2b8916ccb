//go:build !linux

package vigildcmd

import "errors"

// execLauncherFor fails: vigild runs on Linux only.
func execLauncherFor([]string, *Env) (launcher, error) {
	return nil, errors.New("vigild runs on Linux only")
}
