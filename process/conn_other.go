//go:build !linux

package process

import "fmt"

func dialKernel(int) (conn, error) {
	return nil, fmt.Errorf("%w: the process connector is Linux only", ErrUnsupported)
}
