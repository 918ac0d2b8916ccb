package ipvstest

import (
	"context"
	"fmt"

	"github.com/vigil-ha/vigil/ipvs"
)

// mtu is the MTU the table assumes for every interface, for the kernel's
// default MaxLen.
const mtu = 1500

// StartDaemon implements ipvs.Backend: it records d with the kernel's
// defaults (see Daemons), or fails as the kernel does: an invalid d
// (ipvs.ErrInvalid), a daemon of its role already running
// (ipvs.ErrExists).
func (t *Table) StartDaemon(ctx context.Context, d ipvs.SyncDaemon) error {
	c := Call{Op: ipvs.OpStartDaemon, Daemon: d.State}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return t.end(c, fmt.Errorf("ipvstest: %v: %w", c, err))
	}
	if t.daemons[d.State] != nil {
		return t.end(c, fmt.Errorf("ipvstest: %v: %w", c, ipvs.ErrExists))
	}
	d = d.Normalize()
	// The kernel's sizes (start_sync_thread): a payload within the MTU
	// (a master's at most 1500) less the IP and UDP headers, a backup's
	// at least 1024.
	hlen := uint16(20 + 8)
	if d.Group.Is6() {
		hlen = 40 + 8
	}
	switch {
	case d.MaxLen == 0:
		d.MaxLen = mtu - hlen
	case d.State == ipvs.SyncBackup && d.MaxLen < 1024:
		d.MaxLen = 1024
	case d.MaxLen > 65535-hlen:
		d.MaxLen = 65535 - hlen
	}
	t.daemons[d.State] = &d
	return t.end(c, nil)
}

// StopDaemon implements ipvs.Backend: ipvs.ErrNotFound when no daemon of
// role state runs.
func (t *Table) StopDaemon(ctx context.Context, state ipvs.SyncState) error {
	c := Call{Op: ipvs.OpStopDaemon, Daemon: state}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	if state != ipvs.SyncMaster && state != ipvs.SyncBackup {
		return t.end(c, fmt.Errorf("ipvstest: %v: %w", c, ipvs.ErrInvalid))
	}
	if t.daemons[state] == nil {
		return t.end(c, fmt.Errorf("ipvstest: %v: %w", c, ipvs.ErrNotFound))
	}
	t.daemons[state] = nil
	return t.end(c, nil)
}

// Daemons implements ipvs.Backend: the daemons that run, master first,
// with the kernel's defaults filled in (for an MTU of 1500).
func (t *Table) Daemons(ctx context.Context) ([]ipvs.SyncDaemon, error) {
	c := Call{Op: ipvs.OpListDaemons}
	if err := t.begin(ctx, c); err != nil {
		return nil, err
	}
	return t.daemonList(), t.end(c, nil)
}

// daemonList lists the daemons; t.mu held.
func (t *Table) daemonList() []ipvs.SyncDaemon {
	var out []ipvs.SyncDaemon
	for _, d := range t.daemons {
		if d != nil {
			out = append(out, *d)
		}
	}
	return out
}

// RunningDaemons returns the daemons that run, as Daemons does, without
// counting a call and without faults, even after Close.
func (t *Table) RunningDaemons() []ipvs.SyncDaemon {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.daemonList()
}
