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
	sub := m.Subscribe()
	defer sub.Remove()
	fmt.Println("healthy:", (<-sub.C()).Healthy)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	down.Store(true)
	st := <-sub.C() // after two failed rounds
	fmt.Println("healthy:", st.Healthy, errors.Is(st.Err, check.ErrUnexpected))
	cancel()
	<-done
	// Output:
	// healthy: true
	// healthy: false true
}

// A Group runs a check added twice only once, and both subscriptions see
// its status.
func ExampleGroup() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr).AddrPort()

	g := check.NewGroup(check.GroupConfig{})
	p := check.Policy{Interval: time.Second, Timeout: time.Second, Alpha: true}
	a, _ := g.Add(&check.TCP{Addr: addr}, p) // say, in virtual server A
	b, _ := g.Add(&check.TCP{Addr: addr}, p) // and in virtual server B
	fmt.Println("checks:", g.Stats().Checks)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	<-a.C() // the initial status: unhealthy (alpha)
	<-b.C()
	fmt.Println("healthy:", (<-a.C()).Healthy, (<-b.C()).Healthy)
	cancel()
	<-done
	// Output:
	// checks: 1
	// healthy: true true
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
