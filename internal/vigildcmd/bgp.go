package vigildcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/config"
)

// This file runs the BGP speaker of the configuration's bgp block
// (vigil's extension) beside the Supervisor: started with it, drained
// on SIGTERM and SIGINT before the Supervisor stops (so the routes leave
// before the VIPs and the virtual servers; a second SIGTERM or SIGINT
// cuts the drain), restarted by a reload that changes the block. With
// --process-model=keepalived it runs in the VRRP child, to which the
// parent passes that second signal on.

// A BGPSpeaker is what vigild needs of a *bgp.Speaker; the daemon's
// tests give a fake.
type BGPSpeaker interface {
	Run(ctx context.Context) error
	Drain(ctx context.Context) error
	Close() error
}

// A SpeakerBuilder makes the BGP speaker of cfg over sup.
type SpeakerBuilder func(sup Supervisor, cfg vigil.BGP, log *slog.Logger) (BGPSpeaker, error)

// errNoBGP is the error of a bgp block in a vigild built without BGP.
var errNoBGP = errors.New("bgp: this vigild was built without BGP (go build -tags nobgp): the bgp block cannot run; build it without the tag")

// runsBGP reports whether this process runs the speaker: a single
// process, or the VRRP child (not the checker child).
func runsBGP(o *Options) bool { return o.Child == "" || o.Child == childVRRP.String() }

// bgpRun is the speaker running.
type bgpRun struct {
	sp     BGPSpeaker
	cfg    *vigil.BGP
	cancel context.CancelFunc
	done   chan error // Run's result, then closed
}

// startBGP builds and starts the speaker of b (nothing when b is nil).
func (d *daemon) startBGP(b *vigil.BGP) error {
	if b == nil || !runsBGP(d.o) {
		return nil
	}
	sp, err := d.env.Speaker(d.sup, *b, d.log.With("component", "bgp"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &bgpRun{sp: sp, cfg: b, cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- sp.Run(ctx)
		close(r.done)
	}()
	d.setBGP(r)
	d.log.Info("BGP speaker started", "asn", b.ASN, "router_id", b.RouterID, "peers", len(b.Peers), "vips", len(b.VIPs))
	return nil
}

// setBGP makes r the running speaker (nil: none).
func (d *daemon) setBGP(r *bgpRun) {
	d.bgp = r
	d.bgpNow.Store(r)
}

// bgpFailed is the channel of the running speaker's Run; nil without a
// speaker, so that the loop's select ignores it.
func (d *daemon) bgpFailed() <-chan error {
	if d.bgp == nil {
		return nil
	}
	return d.bgp.done
}

// drainBGP moves the traffic off this box before a stop: the speaker
// announces its VIPs with GRACEFUL_SHUTDOWN for drain_time, then
// withdraws them. A signal that stops vigild (a second SIGTERM or
// SIGINT) during the drain cuts it: the drain's context is cancelled, so
// the speaker withdraws the VIPs at once, and drainBGP returns once
// Drain has, for the stop to go on. The other signals are ignored
// meanwhile.
func (d *daemon) drainBGP() {
	if d.bgp == nil {
		return
	}
	d.log.Info("Draining BGP: GRACEFUL_SHUTDOWN, then withdrawal")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sp := d.bgp.sp
	done := make(chan error, 1)
	go func() { done <- sp.Drain(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				d.log.Warn("BGP drain", "err", err)
			}
			return
		case sig := <-d.env.Signals:
			switch {
			case !stops(d.o, sig):
				d.log.Info("Ignoring signal while draining BGP", "signal", sig.String())
			case ctx.Err() == nil:
				d.log.Warn("BGP drain cut short by a second signal: withdrawing the routes now", "signal", sig.String())
				cancel()
			}
		}
	}
}

// stopBGP stops the speaker and waits for its Run.
func (d *daemon) stopBGP() {
	r := d.bgp
	if r == nil {
		return
	}
	d.setBGP(nil)
	r.cancel()
	if err := <-r.done; err != nil {
		d.log.Warn("BGP speaker", "err", err)
	}
	d.log.Info("BGP speaker stopped")
}

// reloadBGP applies a reloaded bgp block: an unchanged one keeps the
// speaker; a changed one restarts it (its sessions start again: without
// graceful_restart the peers drop the routes until it announces them
// again), a removed one stops it, a new one starts it.
func (d *daemon) reloadBGP(old, b *vigil.BGP) error {
	if !runsBGP(d.o) || reflect.DeepEqual(old, b) {
		return nil
	}
	switch {
	case b == nil:
		d.log.Info("Reload: the bgp block is gone: stopping the BGP speaker (routes withdrawn)")
	case old == nil:
		d.log.Info("Reload: a bgp block is new: starting the BGP speaker")
	default:
		d.log.Info("Reload: the bgp block changed: restarting the BGP speaker (sessions reset; routes announced again)")
	}
	d.stopBGP()
	return d.startBGP(b)
}

// bgpModeProblems are the gates of cfg's bgp block that cannot work in
// the process that runs the speaker under o: virtual servers where that
// process has none (-P, the VRRP child of --process-model=keepalived),
// instances and trackers where it has none (-C).
func bgpModeProblems(o *Options, cfg *vigil.Config) []*config.Error {
	b := cfg.BGP
	if b == nil {
		return nil
	}
	pos := config.Pos{File: o.ConfigFile}
	if !bgpBuilt && runsBGP(o) {
		return []*config.Error{{Pos: pos, Severity: config.SeverityFatal, Msg: errNoBGP.Error()}}
	}
	if o.CheckOnly && o.ProcessModel == ModelKeepalived && o.Child == "" {
		return []*config.Error{{Pos: pos, Severity: config.SeverityWarning,
			Msg: "bgp: no VRRP child runs (-C), and the BGP speaker runs in it: the bgp block is not used"}}
	}
	noVS := o.VRRPOnly || o.ProcessModel == ModelKeepalived
	why := "with -P/--vrrp the process has no virtual servers"
	if o.ProcessModel == ModelKeepalived || o.Child != "" {
		why = "with --process-model=keepalived the BGP speaker runs in the VRRP child, which has no virtual servers"
	}
	var out []*config.Error
	for _, v := range b.VIPs {
		if noVS && len(v.VirtualServers) > 0 {
			out = append(out, &config.Error{Pos: pos, Severity: config.SeverityFatal,
				Msg: fmt.Sprintf("bgp vip %v: virtual_server gates cannot work: %s (gate it on an instance or trackers, or run one process)", v.Prefix, why)})
		}
		if o.CheckOnly && (v.Instance != "" || len(v.Trackers) > 0) {
			out = append(out, &config.Error{Pos: pos, Severity: config.SeverityFatal,
				Msg: fmt.Sprintf("bgp vip %v: instance and track gates cannot work with -C/--check: the process has no VRRP instances or trackers", v.Prefix)})
		}
	}
	return out
}
