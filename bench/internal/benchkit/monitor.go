//go:build linux

package benchkit

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Monitor is `ip -ts -n NS monitor address`: every address added or
// removed in a namespace, timestamped by ip(8) when it receives the
// kernel's netlink notification (wall clock, microseconds).
type Monitor struct {
	ns  string
	p   *Proc
	out *Log
}

// AddrEvent is one line of the monitor.
type AddrEvent struct {
	Time    time.Time
	Deleted bool
	Link    string
	Prefix  netip.Prefix
}

// StartMonitor starts the monitor in ns and proves it is listening by
// adding and removing probe (on lo) until the monitor prints it.
func StartMonitor(ctx context.Context, ns string, probe netip.Prefix) (*Monitor, error) {
	m := &Monitor{ns: ns, out: &Log{}}
	p, err := Start("ip monitor", m.out, io.Discard, "ip", "-ts", "-n", ns, "monitor", "address")
	if err != nil {
		return nil, err
	}
	m.p = p
	seen := func(s string) bool {
		for _, e := range parseAddrEvents(s) {
			if e.Prefix == probe && !e.Deleted {
				return true
			}
		}
		return false
	}
	// The subscription may not exist yet when the first probe is added:
	// retry (bounded) until one is seen.
	for try := 0; ; try++ {
		if _, err := Run(ctx, "ip", "-n", ns, "addr", "replace", probe.String(), "dev", "lo"); err != nil {
			m.Stop()
			return nil, err
		}
		err := m.out.Await(ctx, 200*time.Millisecond, "ip monitor prints the probe address", seen)
		_, _ = Run(ctx, "ip", "-n", ns, "addr", "del", probe.String(), "dev", "lo")
		if err == nil {
			return m, nil
		}
		if ctx.Err() != nil || try >= 25 || p.Exited() {
			m.Stop()
			return nil, fmt.Errorf("ip monitor in %s: %w", ns, err)
		}
	}
}

// Stop stops the monitor.
func (m *Monitor) Stop() error {
	if m == nil || m.p == nil {
		return nil
	}
	return m.p.Stop(syscall.SIGTERM, 2*time.Second)
}

// Events returns the address events seen so far.
func (m *Monitor) Events() []AddrEvent { return parseAddrEvents(m.out.String()) }

// AwaitAdd waits until addr is added after (not before) since and returns
// the monitor's timestamp of that event.
func (m *Monitor) AwaitAdd(ctx context.Context, addr netip.Addr, since time.Time, limit time.Duration) (time.Time, error) {
	var at time.Time
	find := func(s string) bool {
		for _, e := range parseAddrEvents(s) {
			if !e.Deleted && e.Prefix.Addr() == addr && !e.Time.Before(since) {
				at = e.Time
				return true
			}
		}
		return false
	}
	err := m.out.Await(ctx, limit, fmt.Sprintf("%v added in %s", addr, m.ns), find)
	return at, err
}

// parseAddrEvents parses `ip -ts monitor address` output:
//
//	[2026-11-27T16:04:54.164596] 1: lo    inet 198.51.100.2/32 scope global lo
//	       valid_lft forever preferred_lft forever
//	[2026-11-27T16:04:54.169672] Deleted 1: lo    inet 198.51.100.2/32 scope global lo
//
// The timestamp is local time.
func parseAddrEvents(s string) []AddrEvent {
	var out []AddrEvent
	lines := strings.Split(s, "\n")
	lines = lines[:len(lines)-1] // only complete lines
	for _, line := range lines {
		if !strings.HasPrefix(line, "[") {
			continue
		}
		end := strings.IndexByte(line, ']')
		if end < 0 {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", line[1:end], time.Local)
		if err != nil {
			continue
		}
		f := strings.Fields(line[end+1:])
		e := AddrEvent{Time: t}
		if len(f) > 0 && f[0] == "Deleted" {
			e.Deleted = true
			f = f[1:]
		}
		// "1:" "lo" "inet" "198.51.100.2/32" ...
		if len(f) < 4 || (f[2] != "inet" && f[2] != "inet6") {
			continue
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil {
			continue
		}
		e.Link, e.Prefix = f[1], p
		out = append(out, e)
	}
	return out
}

// Run runs a short command (bounded to 30 s) and returns its combined
// output, or an error naming the command and its output.
func Run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out Log
	p, err := Start(args[0], &out, &out, args...)
	if err != nil {
		return "", err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop(syscall.SIGKILL, time.Second)
		return out.String(), fmt.Errorf("%s: %w", strings.Join(args, " "), ctx.Err())
	}
	if err := p.Err(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
