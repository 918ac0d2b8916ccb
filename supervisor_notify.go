package vigil

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// notifier is the Supervisor's emitter: events to its feed, scripts to a
// notify.Runner (in order per key, never blocking), lines to the notify
// FIFOs (non-blocking writes; a full pipe drops the line and counts it).
type notifier struct {
	log    *slog.Logger
	events *feed.Feed[Event]
	runner *notify.Runner
	now    func() time.Time

	mu    sync.Mutex  // guards the FIFOs (reload replaces them)
	fifos [3]*fifoRun // global, VRRP, LVS
}

// fifoRun is one open FIFO and the goroutine running its script.
type fifoRun struct {
	cfg    notify.FIFOConfig
	f      *notify.FIFO
	cancel context.CancelFunc
	done   chan struct{}
}

func newNotifier(cfg *Config, log *slog.Logger) *notifier {
	return &notifier{
		log:    log,
		events: &feed.Feed[Event]{},
		runner: notify.NewRunner(notify.Config{QueueLen: cfg.Global.NotifyQueue, Logger: log}),
		now:    time.Now,
	}
}

func (n *notifier) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = n.now()
	}
	if e.Service != (ipvs.ServiceKey{}) {
		e.ServiceName = e.Service.String()
	}
	if e.Dest.Addr.IsValid() {
		e.DestName = e.Dest.String()
	}
	n.events.Publish(e)
}

func (n *notifier) notify(key string, kind fifoKind, line string, calls ...notify.Call) {
	if line != "" {
		n.mu.Lock()
		for i, f := range n.fifos {
			if f == nil || (i == 1 && kind != fifoVRRP) || (i == 2 && kind != fifoLVS) {
				continue
			}
			if err := f.f.WriteLine(line); err != nil {
				// Dropped and counted in the FIFO's stats.
				n.log.Debug("vigil: notify fifo: line not written", "fifo", f.f.Path(), "err", err)
			}
		}
		n.mu.Unlock()
	}
	run := calls[:0:0]
	for _, c := range calls {
		if c.Script != nil {
			run = append(run, c)
		}
	}
	if len(run) == 0 {
		return
	}
	if err := n.runner.Notify(key, run...); err != nil && !errors.Is(err, notify.ErrClosed) {
		n.log.Error("vigil: notify", "key", key, "err", err)
	}
}

// openFIFOs opens the FIFOs cfg names that are not open with the same
// configuration, and closes those it no longer names. Call it before run
// or from the Supervisor's loop.
func (n *notifier) openFIFOs(cfg *Global, ctx context.Context) error {
	want := [3]*notify.FIFOConfig{cfg.NotifyFIFO, cfg.VRRPNotifyFIFO, cfg.LVSNotifyFIFO}
	// keepalived ignores a VRRP or LVS FIFO with the global one's path.
	for i := 1; i < 3; i++ {
		if want[i] != nil && want[0] != nil && want[i].Path == want[0].Path {
			want[i] = nil
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for i, w := range want {
		old := n.fifos[i]
		if old != nil && w != nil && reflect.DeepEqual(old.cfg, *w) {
			continue
		}
		if old != nil {
			old.stop()
			n.fifos[i] = nil
		}
		if w == nil {
			continue
		}
		c := *w
		if c.Logger == nil {
			c.Logger = n.log
		}
		f, err := notify.OpenFIFO(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fr := &fifoRun{cfg: *w, f: f, done: make(chan struct{})}
		if ctx != nil {
			fr.start(ctx, n.log)
		}
		n.fifos[i] = fr
	}
	return errors.Join(errs...)
}

// startFIFOs starts the scripts of the FIFOs opened before Run.
func (n *notifier) startFIFOs(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, f := range n.fifos {
		if f != nil && f.cancel == nil {
			f.start(ctx, n.log)
		}
	}
}

func (f *fifoRun) start(ctx context.Context, log *slog.Logger) {
	ctx, f.cancel = context.WithCancel(ctx)
	go func() {
		defer close(f.done)
		if err := f.f.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("vigil: notify fifo script", "fifo", f.f.Path(), "err", err)
		}
	}()
}

// stop ends the FIFO's script, waits for it and closes the FIFO.
func (f *fifoRun) stop() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
	}
	f.f.Close()
}

// closeFIFOs stops and closes every FIFO.
func (n *notifier) closeFIFOs() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, f := range n.fifos {
		if f != nil {
			f.stop()
			n.fifos[i] = nil
		}
	}
}

// notifyState is the notify.State of a VRRP state; false for Init.
func notifyState(s vrrp.State) (notify.State, bool) {
	switch s {
	case vrrp.Master:
		return notify.Master, true
	case vrrp.Backup:
		return notify.Backup, true
	case vrrp.Fault:
		return notify.Fault, true
	case vrrp.Stopped:
		return notify.Stop, true
	}
	return 0, false
}

// stateScript picks the script for entering s among a notify block's.
func stateScript(s notify.State, master, backup, fault, stop, deleted *notify.Script) *notify.Script {
	switch s {
	case notify.Master:
		return master
	case notify.Backup:
		return backup
	case notify.Fault:
		return fault
	case notify.Stop:
		return stop
	case notify.Deleted:
		return deleted
	}
	return nil
}

// instanceNotify queues an instance's notification for entering s with
// priority prio: its FIFO line, its script for s, then its generic
// script with the four arguments.
func (n *notifier) instanceNotify(in *Instance, name string, s notify.State, prio uint8) {
	c := &in.Notify
	n.notify("instance:"+name, fifoVRRP, notify.InstanceLine(name, s, prio),
		notify.Call{Script: stateScript(s, c.Master, c.Backup, c.Fault, c.Stop, c.Deleted)},
		notify.Call{Script: c.Any, Args: notify.InstanceArgs(name, s, prio)})
}

// groupNotify queues a sync group's notification for entering s.
func (n *notifier) groupNotify(g *SyncGroup, s notify.State) {
	c := &g.Notify
	n.notify("group:"+g.Name, fifoVRRP, notify.GroupLine(g.Name, s),
		notify.Call{Script: stateScript(s, c.Master, c.Backup, c.Fault, c.Stop, nil)},
		notify.Call{Script: c.Any, Args: notify.GroupArgs(g.Name, s)})
}

var _ emitter = (*notifier)(nil)
