package check

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/sched"
)

// GroupConfig configures a Group.
type GroupConfig struct {
	// MaxInFlight bounds the rounds running at once, and so the sockets
	// and processes checks hold; zero means 1024, a negative value no bound.
	// Rounds beyond it wait for a slot, and a check whose round still waits
	// when its next tick comes skips that tick.
	MaxInFlight int
	// Logger receives health changes and scheduler events; nil discards them.
	Logger *slog.Logger
	// Rand draws warmup delays and scheduling jitter; nil means a randomly
	// seeded source. The Group serializes its use.
	Rand *rand.Rand
}

// A Group runs many checks on one scheduler (package sched). Identical
// checks added several times (same Key, or the same pointer, and the same
// Policy) run once per interval and share their status among their
// subscriptions. First rounds are spread over the interval, at most
// MaxInFlight attempts run at once, and each attempt is bounded by its
// policy's Timeout, so a hung target delays no other check.
type Group struct {
	log   *slog.Logger
	sched *sched.Runner

	mu      sync.Mutex
	rnd     *rand.Rand
	entries map[groupKey]*groupEntry
	subs    int
}

// groupKey identifies identical checks.
type groupKey struct {
	id any // "key" + Key(), a pointer checker, or a fresh pointer (unique)
	p  Policy
}

type groupEntry struct {
	m    *Monitor
	h    *sched.Handle
	refs int
}

// GroupStats are a Group's totals.
type GroupStats struct {
	Checks        int         // distinct checks scheduled
	Subscriptions int         // subscriptions, at least one per check
	Sched         sched.Stats // the scheduler's counters
}

// NewGroup returns an empty Group; start it with Run.
func NewGroup(cfg GroupConfig) *Group {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Group{
		log:     log,
		rnd:     rnd,
		entries: make(map[groupKey]*groupEntry),
		sched: sched.New(sched.Config{
			MaxInFlight: cfg.MaxInFlight, // the same zero and negative values
			Logger:      log,
			Rand:        rand.New(rand.NewPCG(rnd.Uint64(), rnd.Uint64())),
		}),
	}
}

// Add schedules c under p and returns a subscription to its status. If an
// identical check is already scheduled, the subscription shares it. Add may
// be called before or during Run.
func (g *Group) Add(c Checker, p Policy) (*Subscription, error) {
	if c == nil {
		return nil, fmt.Errorf("check: group: nil checker: %w", ErrConfig)
	}
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	key := groupKey{id: identity(c), p: p}
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[key]
	if e == nil {
		m, err := NewMonitor(c, p, MonitorConfig{Logger: g.log})
		if err != nil {
			return nil, err
		}
		var offset time.Duration
		if p.Warmup > 0 {
			offset = time.Duration(g.rnd.Int64N(int64(p.Warmup)))
		}
		h, err := g.sched.Add(sched.Job{
			Name:     m.name,
			Interval: p.Interval,
			Offset:   offset,
			Spread:   p.Warmup == 0,
			Run:      m.round, // its attempts have their own timeouts

		})
		if err != nil {
			return nil, fmt.Errorf("check: group: adding %s: %w", m.name, err)
		}
		e = &groupEntry{m: m, h: h}
		g.entries[key] = e
	}
	e.refs++
	g.subs++
	return e.m.subscribe(func() { g.release(key, e) }), nil
}

// release drops one subscription to e, and e itself after the last one.
func (g *Group) release(key groupKey, e *groupEntry) {
	g.mu.Lock()
	g.subs--
	e.refs--
	last := e.refs == 0
	if last {
		delete(g.entries, key)
	}
	g.mu.Unlock()
	if last {
		e.h.Remove()
	}
}

// identity returns what makes two checkers the same check.
func identity(c Checker) any {
	if k, ok := c.(Keyer); ok {
		if key := k.Key(); key != "" {
			return "key " + key
		}
	}
	if reflect.TypeOf(c).Kind() == reflect.Pointer {
		return c
	}
	return new(byte) // not comparable: never shared
}

// Run runs the checks until ctx is done and returns once every attempt has
// returned. A Group runs once.
func (g *Group) Run(ctx context.Context) error {
	if err := g.sched.Run(ctx); err != nil {
		return fmt.Errorf("check: group: %w", err)
	}
	return nil
}

// Stats returns the group's totals.
func (g *Group) Stats() GroupStats {
	g.mu.Lock()
	st := GroupStats{Checks: len(g.entries), Subscriptions: g.subs}
	g.mu.Unlock()
	st.Sched = g.sched.Stats()
	return st
}
