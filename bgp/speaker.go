package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/server"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/sleep"
)

// A Source is what a Speaker follows: a *vigil.Supervisor, or a value
// embedding one.
type Source interface {
	State() vigil.State
	Subscribe(n int) *vigil.Subscription
}

// A Speaker announces a Supervisor's VIPs over BGP through an embedded
// GoBGP server (no gRPC API: only this package drives it). It follows
// the Supervisor's events: each VIP is announced while its gate is open
// (see VIP) and withdrawn when it closes, when the Supervisor's Run
// returns, and after Drain.
//
// Its methods are safe for concurrent use.
type Speaker struct {
	sup    Source
	cfg    Config
	log    *slog.Logger
	events feed.Feed[Event]

	kick     chan chan struct{} // Drain → loop: apply the drain flags now
	loopDone chan struct{}      // closed when Run's loop has ended

	mu        sync.Mutex
	ran       bool
	closed    bool
	running   bool
	srv       *server.BgpServer // while running
	draining  bool              // Drain started: announce with GRACEFUL_SHUTDOWN
	drained   bool              // Drain ended: announce nothing
	announced map[netip.Prefix]announced
}

// announced is how a VIP is announced.
type announced struct{ on, draining bool }

// New returns a Speaker for the VIPs of sup (a Supervisor, not nil). It
// checks cfg (Validate) and starts nothing: Run does.
func New(sup Source, cfg Config) (*Speaker, error) {
	if sup == nil {
		return nil, errors.New("bgp: New: nil Supervisor")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Peers = slices.Clone(cfg.Peers)
	cfg.VIPs = slices.Clone(cfg.VIPs)
	return &Speaker{sup: sup, cfg: cfg, log: logx.OrDiscard(cfg.Logger),
		kick: make(chan chan struct{}), loopDone: make(chan struct{}),
		announced: map[netip.Prefix]announced{}}, nil
}

// Subscribe returns a subscription to the Speaker's events, with a queue
// of n (at least 1) that drops its oldest event when full and counts it.
// Its channel is closed when Run returns.
func (s *Speaker) Subscribe(n int) *Subscription {
	return &Subscription{s: s.events.Subscribe(n)}
}

// Subscription receives a Speaker's Events; see Speaker.Subscribe.
type Subscription struct{ s *feed.Sub[Event] }

// C carries the events; it is closed by Close and when Run returns.
func (s *Subscription) C() <-chan Event { return s.s.C() }

// Dropped counts the events lost because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.s.Dropped() }

// Close ends the subscription and closes C. Calling it again does nothing.
func (s *Subscription) Close() { s.s.Close() }

// Close is for a Speaker that will not run: it closes the subscriptions,
// and a later Run returns ErrClosed. During or after Run it does nothing.
func (s *Speaker) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ran && !s.closed {
		s.closed = true
		s.events.Close()
	}
	return nil
}

// Run starts the GoBGP server, opens the sessions and announces the VIPs
// whose gates are open, following the Supervisor's events until ctx is
// done. Then it stops the server: with GracefulRestart enabled and no
// Drain done, without a NOTIFICATION, so the peers keep the routes for
// the restart time; otherwise with a Cease NOTIFICATION, which makes the
// peers drop its routes at once. It returns when the server and every
// goroutine it started have ended, nil after ctx is done, or the error
// that kept the server from starting. A Speaker runs once: a second call
// returns ErrRan; after Close, ErrClosed.
func (s *Speaker) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.ran:
		s.mu.Unlock()
		return ErrRan
	}
	s.ran = true
	s.mu.Unlock()
	defer close(s.loopDone)
	defer s.events.Close()

	glog := &gobgpHandler{inner: s.log.Handler()}
	srv := server.NewBgpServer(server.LoggerOption(slog.New(glog).With("component", "gobgp"), nil))
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve()
	}()
	if err := srv.StartBgp(ctx, global(&s.cfg)); err != nil {
		glog.mute.Store(true)
		srv.Stop() // ends Serve and the BFD goroutine
		<-served
		return fmt.Errorf("bgp: starting GoBGP: %w", err)
	}
	graceful := false
	defer func() {
		if err := srv.StopBgp(context.Background(), &api.StopBgpRequest{AllowGracefulRestart: graceful}); err != nil {
			s.log.Warn("bgp: stopping GoBGP", "err", err)
		}
		<-served
		// Stop ends GoBGP's BFD goroutine, which only it stops; its
		// StopBgp then fails (BGP already stopped) and logs that.
		glog.mute.Store(true)
		srv.Stop()
		s.mu.Lock()
		s.running, s.srv = false, nil
		clear(s.announced)
		s.mu.Unlock()
	}()
	for _, p := range s.cfg.Peers {
		if err := srv.AddPeer(ctx, peerRequest(&s.cfg, p)); err != nil {
			return fmt.Errorf("bgp: peer %v: %w", p.Address, err)
		}
	}
	sub := s.sup.Subscribe(256)
	defer sub.Close()
	s.mu.Lock()
	s.running, s.srv = true, srv
	s.mu.Unlock()

	l := &loop{s: s, srv: srv, on: make([]bool, len(s.cfg.VIPs)), drainOn: make([]bool, len(s.cfg.VIPs))}
	l.apply(time.Time{})
	events := sub.C()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			graceful = s.cfg.GracefulRestart.Enabled && !s.draining && !s.drained
			s.mu.Unlock()
			return nil
		case ack := <-s.kick:
			l.apply(time.Time{})
			close(ack)
		case ev, ok := <-events:
			if !ok {
				events = nil
				l.supGone = true
				l.apply(time.Time{})
				continue
			}
			cause := ev.Time
			// Take what else is queued: one State read covers them all.
			for more := true; more; {
				select {
				case e, ok := <-events:
					if !ok {
						events, l.supGone, more = nil, true, false
					} else if e.Time.After(cause) {
						cause = e.Time
					}
				default:
					more = false
				}
			}
			l.apply(cause)
		}
	}
}

// loop is Run's state: what is announced, and how.
type loop struct {
	s       *Speaker
	srv     *server.BgpServer
	on      []bool // VIP i is announced
	drainOn []bool // … with the draining attributes
	supGone bool   // the Supervisor's Run has returned
}

// apply announces and withdraws what the Supervisor's state and the
// drain flags call for; cause is the time of the event that led here.
func (l *loop) apply(cause time.Time) {
	s := l.s
	open := gates(s.cfg.VIPs, s.sup.State())
	s.mu.Lock()
	draining, drained := s.draining, s.drained
	s.mu.Unlock()
	for i := range s.cfg.VIPs {
		v := &s.cfg.VIPs[i]
		want := open[i] && !drained && !l.supGone
		// State says what the speaker announces before GoBGP is told
		// (and put back if it refuses): a router cannot learn of a
		// change before State shows it.
		was := announced{l.on[i], l.drainOn[i]}
		switch {
		case want && (!l.on[i] || l.drainOn[i] != draining):
			kind := EventAnnounce
			if draining {
				kind = EventDrain
			}
			l.setAnnounced(v.Prefix, announced{true, draining})
			if _, err := l.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{path(v, draining, s.cfg.Drain)}}); err != nil {
				l.setAnnounced(v.Prefix, was)
				s.log.Error("bgp: announcing", "prefix", v.Prefix, "err", err)
				continue
			}
			l.on[i], l.drainOn[i] = true, draining
			l.publish(kind, v.Prefix, cause)
		case !want && l.on[i]:
			p := path(v, l.drainOn[i], s.cfg.Drain)
			p.Withdrawal = true
			l.setAnnounced(v.Prefix, announced{})
			if err := l.srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
				l.setAnnounced(v.Prefix, was)
				s.log.Error("bgp: withdrawing", "prefix", v.Prefix, "err", err)
				continue
			}
			l.on[i], l.drainOn[i] = false, false
			l.publish(EventWithdraw, v.Prefix, cause)
		}
	}
}

// setAnnounced records how prefix p is announced, for State.
func (l *loop) setAnnounced(p netip.Prefix, a announced) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !a.on {
		delete(l.s.announced, p)
		return
	}
	l.s.announced[p] = a
}

// publish logs and publishes an announcement or withdrawal, made.
func (l *loop) publish(kind EventKind, p netip.Prefix, cause time.Time) {
	l.s.log.Info("bgp: "+kind.String(), "prefix", p)
	l.s.events.Publish(Event{Kind: kind, Prefix: p, Time: time.Now(), Cause: cause})
}

// Drain moves traffic off this box before its routes go: it announces
// the VIPs it announces again with the GRACEFUL_SHUTDOWN community and
// Config.Drain.MED, waits Config.Drain.Time, then withdraws every VIP.
// From then on the Speaker announces nothing, whatever the gates do
// (a VIP whose gate closes while draining is withdrawn at once). Call it
// on a graceful stop, before cancelling the Supervisor and Run.
//
// If ctx is done before the wait ends, the VIPs are withdrawn at once
// and Drain returns ctx.Err(). On a Speaker that is not running, Drain
// only makes a later Run announce nothing. Calling it again withdraws
// at once.
func (s *Speaker) Drain(ctx context.Context) error {
	s.mu.Lock()
	again := s.draining
	s.draining = true
	s.mu.Unlock()
	var err error
	if d := drainTime(s.cfg.Drain); d > 0 && !again {
		s.poke()
		if !sleep.For(ctx, d) {
			err = ctx.Err()
		}
	}
	s.mu.Lock()
	s.drained = true
	s.mu.Unlock()
	s.poke()
	return err
}

// poke makes a running loop apply the drain flags, and waits until it
// has.
func (s *Speaker) poke() {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if !running {
		return
	}
	ack := make(chan struct{})
	select {
	case s.kick <- ack:
		<-ack
	case <-s.loopDone:
	}
}

// gobgpHandler passes GoBGP's log to the Speaker's, until muted.
type gobgpHandler struct {
	inner slog.Handler
	mute  atomic.Bool
}

func (h *gobgpHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.mute.Load() && h.inner.Enabled(ctx, l)
}

func (h *gobgpHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.mute.Load() {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *gobgpHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &mutedHandler{h: h, inner: h.inner.WithAttrs(a)}
}

func (h *gobgpHandler) WithGroup(name string) slog.Handler {
	return &mutedHandler{h: h, inner: h.inner.WithGroup(name)}
}

// mutedHandler is a derived gobgpHandler: muted with it.
type mutedHandler struct {
	h     *gobgpHandler
	inner slog.Handler
}

func (m *mutedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !m.h.mute.Load() && m.inner.Enabled(ctx, l)
}

func (m *mutedHandler) Handle(ctx context.Context, r slog.Record) error {
	if m.h.mute.Load() {
		return nil
	}
	return m.inner.Handle(ctx, r)
}

func (m *mutedHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &mutedHandler{h: m.h, inner: m.inner.WithAttrs(a)}
}

func (m *mutedHandler) WithGroup(name string) slog.Handler {
	return &mutedHandler{h: m.h, inner: m.inner.WithGroup(name)}
}
