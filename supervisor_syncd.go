package vigil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vrrp"
)

// SyncDaemon is keepalived's lvs_sync_daemon: the kernel's IPVS
// connection-synchronisation daemon follows a VRRP instance. While the
// instance is MASTER the master daemon runs (it multicasts this
// director's connections); otherwise (INIT, BACKUP, FAULT) the backup
// daemon runs (it takes the master director's connections into this
// table), so that a failover keeps established connections. The
// Supervisor starts the backup daemon when Run starts, switches on the
// instance's transitions to and from MASTER (stop one, start the other,
// as keepalived does), and stops the daemon when Run returns.
type SyncDaemon struct {
	// Instance names the VRRP instance that decides (required).
	Instance string
	// Interface carries the sync multicast (required).
	Interface string
	// SyncID tags this pair of directors' messages: 0 means the
	// instance's VRID (keepalived's default), a negative value none (0
	// to the kernel: the backup takes every master's), else 1..255.
	SyncID int
	// MaxLen, Port, TTL and Group are ipvs.SyncDaemon's (their zero
	// values are the kernel's defaults).
	MaxLen uint16
	Port   uint16
	TTL    uint8
	Group  netip.Addr
}

// daemon returns the kernel's daemon of role st for d, whose instance
// has VRID vrid.
func (d *SyncDaemon) daemon(st ipvs.SyncState, vrid uint8) ipvs.SyncDaemon {
	id := uint8(max(d.SyncID, 0))
	if d.SyncID == 0 {
		id = vrid
	}
	return ipvs.SyncDaemon{State: st, Interface: d.Interface, SyncID: id, MaxLen: d.MaxLen, Port: d.Port, TTL: d.TTL, Group: d.Group}
}

// validateSyncDaemon reports the problems of c.Global.SyncDaemon.
func validateSyncDaemon(c *Config) []error {
	d := c.Global.SyncDaemon
	if d == nil {
		return nil
	}
	const obj = "sync daemon"
	var errs []error
	found := false
	for i := range c.Instances {
		found = found || c.Instances[i].VRRP.Name == d.Instance
	}
	if !found {
		errs = append(errs, invalid(obj, "Instance", "no instance named %q", d.Instance))
	}
	if d.SyncID > 255 {
		errs = append(errs, invalid(obj, "SyncID", "%d, want 1..255 (0: the instance's VRID, negative: none)", d.SyncID))
	}
	for _, e := range leaves(d.daemon(ipvs.SyncMaster, 0).Validate()) {
		var fe *ipvs.FieldError
		if errors.As(e, &fe) {
			errs = append(errs, invalid(obj, fe.Field, "%s", fe.Reason))
		}
	}
	return errs
}

// syncDaemons runs the kernel's sync daemons for Global.SyncDaemon on its
// own goroutine (a start makes a kernel thread and joins a multicast
// group: not on the Supervisor's loop). The loop says what it wants
// (set); the goroutine makes the kernel's daemons match, and at the end
// (finish) stops what it started.
type syncDaemons struct {
	b    ipvs.Backend
	log  *slog.Logger
	wake chan struct{} // capacity 1: set's signal
	done chan struct{} // closed when run returned

	mu   sync.Mutex
	want *ipvs.SyncDaemon // nil: none
	end  bool

	running *ipvs.SyncDaemon // what run started; run's own
}

func newSyncDaemons(b ipvs.Backend, log *slog.Logger) *syncDaemons {
	return &syncDaemons{b: b, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// set makes want the daemon that should run (nil: none).
func (sd *syncDaemons) set(want *ipvs.SyncDaemon) {
	sd.mu.Lock()
	sd.want = want
	sd.mu.Unlock()
	select {
	case sd.wake <- struct{}{}:
	default:
	}
}

// finish stops the daemons and waits for run to return.
func (sd *syncDaemons) finish() {
	sd.mu.Lock()
	sd.want, sd.end = nil, true
	sd.mu.Unlock()
	select {
	case sd.wake <- struct{}{}:
	default:
	}
	<-sd.done
}

// run applies what set asks until finish.
func (sd *syncDaemons) run() {
	defer close(sd.done)
	for range sd.wake {
		sd.mu.Lock()
		want, end := sd.want, sd.end
		sd.mu.Unlock()
		sd.apply(want)
		if end {
			return
		}
	}
}

// apply stops the running daemon unless it is want, then starts want:
// keepalived's order (ipvs_syncd_master: stop the backup, start the
// master). A daemon of want's role found running (left by an earlier run
// or started by someone else) is stopped and started again with want's
// settings.
func (sd *syncDaemons) apply(want *ipvs.SyncDaemon) {
	ctx := context.Background()
	if sd.running != nil && (want == nil || *want != *sd.running) {
		if err := sd.b.StopDaemon(ctx, sd.running.State); err != nil && !errors.Is(err, ipvs.ErrNotFound) {
			sd.log.Error("vigil: stop IPVS sync daemon", "daemon", sd.running.String(), "err", err)
		} else {
			sd.log.Info("vigil: IPVS sync daemon stopped", "daemon", sd.running.String())
		}
		sd.running = nil
	}
	if want == nil || sd.running != nil {
		return
	}
	err := sd.b.StartDaemon(ctx, *want)
	if errors.Is(err, ipvs.ErrExists) {
		sd.log.Info("vigil: IPVS sync daemon already running: starting it again with this configuration", "state", want.State)
		if err = sd.b.StopDaemon(ctx, want.State); err == nil || errors.Is(err, ipvs.ErrNotFound) {
			err = sd.b.StartDaemon(ctx, *want)
		}
	}
	if err != nil {
		sd.log.Error("vigil: start IPVS sync daemon", "daemon", want.String(), "err", err)
		return
	}
	sd.log.Info("vigil: IPVS sync daemon started", "daemon", want.String())
	w := *want
	sd.running = &w
}

// openSyncDaemons opens the IPVS backend for cfg's sync daemon, if it
// has one.
func (s *Supervisor) openSyncDaemons(cfg *Config) error {
	if cfg.Global.SyncDaemon == nil || s.syncd != nil {
		return nil
	}
	b, err := s.p.IPVS()
	if err != nil {
		return fmt.Errorf("vigil: sync daemon: %w", err)
	}
	s.syncd, s.syncB = newSyncDaemons(b, s.log), b
	return nil
}

// startSyncDaemons runs s.syncd, if there is one, and asks for the
// daemon of the instance's state. s.mu held.
func (s *Supervisor) startSyncDaemons() {
	if s.syncd == nil {
		return
	}
	go s.syncd.run()
	s.syncTransition()
}

// syncTransition asks for the daemon cfg's instance's state calls for:
// the master daemon while it is MASTER, the backup one otherwise. s.mu
// held.
func (s *Supervisor) syncTransition() {
	if s.syncd == nil || s.stopping {
		return // stopping: Run's end stops the daemon that runs
	}
	d := s.cfg.Global.SyncDaemon
	if d == nil {
		s.syncd.set(nil)
		return
	}
	m := s.instance(d.Instance)
	if m == nil {
		s.syncd.set(nil)
		return
	}
	st := ipvs.SyncBackup
	if m.state == vrrp.Master {
		st = ipvs.SyncMaster
	}
	want := d.daemon(st, m.cfg.VRRP.VRID)
	s.syncd.set(&want)
}

// stopSyncDaemons stops the daemons and their goroutine, when Run ends.
func (s *Supervisor) stopSyncDaemons() {
	if s.syncd != nil {
		s.syncd.finish()
	}
}

// closeSyncBackend closes the sync daemons' IPVS backend.
func (s *Supervisor) closeSyncBackend() {
	if s.syncB != nil {
		if err := s.syncB.Close(); err != nil {
			s.log.Warn("vigil: closing the sync daemons' IPVS backend", "err", err)
		}
	}
}
