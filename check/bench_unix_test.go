//go:build unix

package check

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds checks/s (wall clock), CPU time per check and checks per
// second per core (that is, per CPU-second) to b's results.
func report(b *testing.B, checks int64, wall, cpu time.Duration) {
	b.ReportMetric(float64(checks)/wall.Seconds(), "checks/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(checks), "cpu-ns/check")
	b.ReportMetric(float64(checks)/cpu.Seconds(), "checks/cpu-s")
	b.ReportMetric(0, "ns/op")
}

// benchGroup runs a Group of 10,000 in-process checks every interval until
// b.N checks have run: the cost of scheduling, timeouts, tracking and
// publishing, with checks that cost nothing.
func benchGroup(b *testing.B, interval time.Duration) {
	const targets = 10000
	var done atomic.Int64
	finished := make(chan struct{})
	goal := int64(b.N)
	g := NewGroup(GroupConfig{})
	for i := range targets {
		c := CheckerFunc(func(context.Context) error {
			if done.Add(1) == goal {
				close(finished)
			}
			if i%10 == 0 {
				return errDown
			}
			return nil
		})
		s, err := g.Add(c, Policy{Interval: interval, Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Remove()
	}
	ctx, cancel := context.WithCancel(b.Context())
	ran := make(chan error)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	start := time.Now()
	go func() { ran <- g.Run(ctx) }()
	<-finished
	wall := time.Since(start)
	cpu := cpuTime(b) - cpu0
	cancel()
	<-ran
	b.StopTimer()
	report(b, goal, wall, cpu)
}

// BenchmarkGroup10k: 10,000 targets every 100ms, 100,000 checks/s asked.
func BenchmarkGroup10k(b *testing.B) { benchGroup(b, 100*time.Millisecond) }

// BenchmarkGroup10kSaturated: 10,000 targets every 1ms, more than the
// Group can run: its ceiling.
func BenchmarkGroup10kSaturated(b *testing.B) { benchGroup(b, time.Millisecond) }

// BenchmarkTCPCheck runs TCP checks against a loopback listener from
// GOMAXPROCS goroutines. The listener (accept, close) runs in this process
// too, so CPU per check includes the server's share.
func BenchmarkTCPCheck(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-served }()
	c := &TCP{Addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	var checks atomic.Int64
	cpu0 := cpuTime(b)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := c.Check(ctx); err != nil {
				b.Error(err)
			}
			cancel()
			checks.Add(1)
		}
	})
	b.StopTimer()
	report(b, checks.Load(), time.Since(start), cpuTime(b)-cpu0)
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// benchPath is a way of running a check, for benchPaths.
type benchPath struct {
	name string
	f    func() error
}

// benchPaths runs each path as a sub-benchmark of b, with its
// allocations and its CPU time (of the whole process) per run.
func benchPaths(b *testing.B, paths []benchPath) {
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				if err := p.f(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
