package ipvstest

import (
	"context"
	"fmt"

	"github.com/vigil-ha/vigil/ipvs"
)

// Flush implements ipvs.Admin: it deletes every service.
func (t *Table) Flush(ctx context.Context) error {
	c := Call{Op: ipvs.OpFlush}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	clear(t.svcs)
	return t.end(c, nil)
}

// Timeouts implements ipvs.Admin.
func (t *Table) Timeouts(ctx context.Context) (ipvs.Timeouts, error) {
	c := Call{Op: ipvs.OpReadTimeouts}
	if err := t.begin(ctx, c); err != nil {
		return ipvs.Timeouts{}, err
	}
	return t.timeouts, t.end(c, nil)
}

// SetTimeouts implements ipvs.Admin: it sets the non-zero timeouts of
// to, or fails as the kernel does on an invalid one (ipvs.ErrInvalid).
func (t *Table) SetTimeouts(ctx context.Context, to ipvs.Timeouts) error {
	c := Call{Op: ipvs.OpSetTimeouts}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	if err := to.Validate(); err != nil {
		return t.end(c, fmt.Errorf("ipvstest: %v: %w", c, err))
	}
	if to.TCP != 0 {
		t.timeouts.TCP = to.TCP
	}
	if to.TCPFin != 0 {
		t.timeouts.TCPFin = to.TCPFin
	}
	if to.UDP != 0 {
		t.timeouts.UDP = to.UDP
	}
	return t.end(c, nil)
}

// CurrentTimeouts returns the timeouts, as Timeouts does, without
// counting a call and without faults, even after Close.
func (t *Table) CurrentTimeouts() ipvs.Timeouts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.timeouts
}
