package check_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/check"
)

// A Monitor checks a web server every 100ms and reports when it becomes
// unhealthy.
func ExampleMonitor() {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().(*net.TCPAddr).AddrPort()

	m, err := check.NewMonitor(&check.HTTP{Addr: addr, Path: "/health"}, check.Policy{
		Interval: 100 * time.Millisecond,
		Timeout:  time.Second,
		Fall:     2,
	}, check.MonitorConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sub := m.Subscribe(1) // the latest change
	defer sub.Close()
	fmt.Println("healthy:", m.Status().Healthy)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	down.Store(true)
	st := <-sub.C() // after two failed rounds
	fmt.Println("healthy:", st.Healthy, errors.Is(st.Err, check.ErrUnexpected))
	cancel()
	<-done
	fmt.Println(m.Run(ctx)) // a Monitor runs once
	// Output:
	// healthy: true
	// healthy: false true
	// check: already ran
}

// A Group runs a check added twice only once, and reports the changes of
// all its checks on one subscription.
func ExampleGroup() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr).AddrPort()

	g := check.NewGroup(check.GroupConfig{})
	changes := g.Subscribe(100) // room for a change of every check
	p := check.Policy{Interval: time.Second, Timeout: time.Second, Alpha: true}
	a, _ := g.Add(&check.TCP{Addr: addr}, p) // say, in virtual server A
	b, _ := g.Add(&check.TCP{Addr: addr}, p) // and in virtual server B
	names := map[*check.Handle]string{a: "A", b: "B"}
	fmt.Println("checks:", g.Stats().Checks, "healthy:", a.Status().Healthy, b.Status().Healthy)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	seen := map[string]bool{}
	for len(seen) < 2 {
		c := <-changes.C() // the first round: healthy, for each handle
		seen[names[c.Handle]] = c.Status.Healthy
	}
	fmt.Println("healthy:", seen["A"], seen["B"])
	cancel()
	<-done
	// Output:
	// checks: 1 healthy: false false
	// healthy: true true
}

// A running check's policy changes without losing its health.
func ExampleHandle_SetPolicy() {
	g := check.NewGroup(check.GroupConfig{})
	var fails atomic.Bool
	fails.Store(true)
	h, _ := g.Add(check.CheckerFunc(func(context.Context) error {
		if fails.Load() {
			return errors.New("down")
		}
		return nil
	}), check.Policy{Interval: time.Hour, Warmup: -1}) // one round now, the next in an hour
	changes := g.Subscribe(1)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	fmt.Println("healthy:", (<-changes.C()).Status.Healthy)
	fails.Store(false)
	// Every 10ms from the last round on, so at once; the target stays
	// unhealthy until three rounds pass.
	if err := h.SetPolicy(check.Policy{Interval: 10 * time.Millisecond, Rise: 3}); err != nil {
		fmt.Println(err)
	}
	fmt.Println("healthy:", h.Status().Healthy)
	fmt.Println("healthy:", (<-changes.C()).Status.Healthy)
	cancel()
	<-done
	// Output:
	// healthy: false
	// healthy: false
	// healthy: true
}

// CheckerFunc turns a Go function into a check.
func ExampleCheckerFunc() {
	var queue atomic.Int64
	queue.Store(12)
	c := check.CheckerFunc(func(ctx context.Context) error {
		if n := queue.Load(); n > 10 {
			return fmt.Errorf("queue has %d jobs", n)
		}
		return nil
	})
	fmt.Println(c.Check(context.Background()))
	// Output: queue has 12 jobs
}
