//go:build !linux

package ipvs

import (
	"context"
	"fmt"
	"runtime"
)

// Kernel is the kernel's IPVS table; only Linux has one.
type Kernel struct{}

// Open returns an error wrapping ErrUnsupported: IPVS is Linux only.
func Open(cfg KernelConfig) (*Kernel, error) {
	return nil, fmt.Errorf("ipvs: open on %s: %w", runtime.GOOS, ErrUnsupported)
}

var errNoKernel = fmt.Errorf("ipvs: no kernel IPVS on %s: %w", runtime.GOOS, ErrUnsupported)

// Services returns ErrUnsupported.
func (*Kernel) Services(context.Context) ([]ServiceState, error) { return nil, errNoKernel }

// Destinations returns ErrUnsupported.
func (*Kernel) Destinations(context.Context, ServiceKey) ([]DestinationState, error) {
	return nil, errNoKernel
}

// CreateService returns ErrUnsupported.
func (*Kernel) CreateService(context.Context, Service) error { return errNoKernel }

// UpdateService returns ErrUnsupported.
func (*Kernel) UpdateService(context.Context, Service) error { return errNoKernel }

// DeleteService returns ErrUnsupported.
func (*Kernel) DeleteService(context.Context, ServiceKey) error { return errNoKernel }

// CreateDestination returns ErrUnsupported.
func (*Kernel) CreateDestination(context.Context, ServiceKey, Destination) error { return errNoKernel }

// UpdateDestination returns ErrUnsupported.
func (*Kernel) UpdateDestination(context.Context, ServiceKey, Destination) error { return errNoKernel }

// DeleteDestination returns ErrUnsupported.
func (*Kernel) DeleteDestination(context.Context, ServiceKey, DestinationKey) error {
	return errNoKernel
}

// Apply returns ErrUnsupported for every change.
func (*Kernel) Apply(_ context.Context, changes []Change) []error {
	errs := make([]error, len(changes))
	for i := range errs {
		errs[i] = errNoKernel
	}
	return errs
}

// Close does nothing.
func (*Kernel) Close() error { return nil }

// StartDaemon returns ErrUnsupported.
func (*Kernel) StartDaemon(context.Context, SyncDaemon) error { return errNoKernel }

// StopDaemon returns ErrUnsupported.
func (*Kernel) StopDaemon(context.Context, SyncState) error { return errNoKernel }

// Daemons returns ErrUnsupported.
func (*Kernel) Daemons(context.Context) ([]SyncDaemon, error) { return nil, errNoKernel }

// Flush returns ErrUnsupported.
func (*Kernel) Flush(context.Context) error { return errNoKernel }

// Timeouts returns ErrUnsupported.
func (*Kernel) Timeouts(context.Context) (Timeouts, error) { return Timeouts{}, errNoKernel }

// SetTimeouts returns ErrUnsupported.
func (*Kernel) SetTimeouts(context.Context, Timeouts) error { return errNoKernel }
