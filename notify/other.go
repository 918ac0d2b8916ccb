//go:build !linux

package notify

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"syscall"
)

var errUnsupported = fmt.Errorf("notify: on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// run is not implemented outside Linux.
func (s *Script) run(context.Context, []string) (Result, error) { return Result{}, errUnsupported }

// open is not implemented outside Linux.
func (f *FIFO) open() error { return errUnsupported }

func (f *FIFO) write(string) error { return errUnsupported }

func (f *FIFO) close() error { return nil }

func signalName(sig syscall.Signal) string { return sig.String() }
