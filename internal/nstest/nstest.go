// Package nstest builds throwaway network topologies in Linux network
// namespaces for tests: N hosts, each in its own namespace with one veth
// "eth0", joined by a bridge in a switch namespace. Hosts get fixed MACs and
// addresses from the documentation ranges (192.0.2.0/24, 2001:db8::/64),
// and everything is deleted in t.Cleanup, even when the test fails.
//
// Tests that need it call Require first: without root (or without
// namespace support) they skip, unless VIGIL_REQUIRE_NETNS=1, when a skip
// becomes a failure.
package nstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netns"
)

// Require skips t unless it can create network namespaces (root, ip(8)).
// With VIGIL_REQUIRE_NETNS=1 it fails t instead of skipping.
func Require(t testing.TB) {
	t.Helper()
	why := ""
	switch {
	case runtime.GOOS != "linux":
		why = "network namespaces need Linux"
	case os.Geteuid() != 0:
		why = "network namespace tests need root"
	default:
		if _, err := exec.LookPath("ip"); err != nil {
			why = "ip(8) from iproute2 is not installed"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("VIGIL_REQUIRE_NETNS") == "1" {
		t.Fatalf("%s, and VIGIL_REQUIRE_NETNS=1", why)
	}
	t.Skip(why)
}

// Host is one host of a Segment.
type Host struct {
	// Name is the namespace name (usable with `ip netns exec`).
	Name string
	// Index is the host's number, from 1.
	Index int
	// Link is the host's interface name, "eth0".
	Link string
	MAC  net.HardwareAddr
	// Addr4 and Addr6 are the host's addresses with prefix lengths;
	// LinkLocal its EUI-64 IPv6 link-local address.
	Addr4, Addr6 netip.Prefix
	LinkLocal    netip.Addr
	// Port is the bridge port (in the switch namespace) facing the host.
	Port string
	seg  *Segment
}

// Segment is a bridge and the hosts on it.
type Segment struct {
	// Switch is the namespace holding bridge "br0".
	Switch  string
	Hosts   []*Host
	created []string
}

// Run runs the command line args, returning its combined output, or an
// error naming the command and its output.
func Run(args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// MustRun is Run that fails t on error.
func MustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := Run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// NewSegment creates a bridge and n hosts (1 ≤ n ≤ 200) on it, deleted in
// t.Cleanup. Host i (from 1) has MAC 02:00:00:00:01:i, 192.0.2.i/24,
// 2001:db8::i/64 (hex) and the EUI-64 link-local address, all without
// duplicate address detection.
func NewSegment(t testing.TB, n int) *Segment {
	t.Helper()
	Require(t)
	s, err := Build(n)
	if s != nil {
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Logf("nstest cleanup: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Build is NewSegment for programs (the quickstart, benchmarks): the caller
// must Close the segment, also when Build fails with a non-nil segment.
func Build(n int) (*Segment, error) {
	if n < 1 || n > 200 {
		return nil, fmt.Errorf("nstest: %d hosts, want 1..200", n)
	}
	var id [3]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	prefix := "vg" + hex.EncodeToString(id[:])
	s := &Segment{Switch: prefix + "-sw"}
	if _, err := Run("ip", "netns", "add", s.Switch); err != nil {
		return nil, err
	}
	s.created = append(s.created, s.Switch)
	var errs []error
	try := func(args ...string) {
		if len(errs) == 0 {
			if _, err := Run(args...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	sw := func(args ...string) { try(append([]string{"ip", "-n", s.Switch}, args...)...) }
	sw("link", "add", "br0", "type", "bridge", "mcast_snooping", "0", "forward_delay", "0", "stp_state", "0")
	sw("link", "set", "br0", "up")
	sw("link", "set", "lo", "up")
	for i := 1; i <= n && len(errs) == 0; i++ {
		h := &Host{
			Name:  fmt.Sprintf("%s-h%d", prefix, i),
			Index: i,
			Link:  "eth0",
			MAC:   net.HardwareAddr{0x02, 0, 0, 0, 0x01, byte(i)},
			Addr4: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 24),
			Addr6: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}), 64),
			// EUI-64 of 02:00:00:00:01:i: fe80::ff:fe00:1ii.
			LinkLocal: netip.AddrFrom16([16]byte{0xfe, 0x80, 11: 0xff, 12: 0xfe, 14: 0x01, 15: byte(i)}),
			Port:      fmt.Sprintf("p%d", i),
			seg:       s,
		}
		if _, err := Run("ip", "netns", "add", h.Name); err != nil {
			return s, err
		}
		s.created = append(s.created, h.Name)
		hn := func(args ...string) { try(append([]string{"ip", "-n", h.Name}, args...)...) }
		hn("link", "set", "lo", "up")
		try("ip", "netns", "exec", h.Name, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0")
		try("ip", "netns", "exec", h.Name, "sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0")
		hn("link", "add", h.Link, "address", h.MAC.String(), "type", "veth", "peer", "name", h.Port, "netns", s.Switch)
		sw("link", "set", h.Port, "master", "br0")
		sw("link", "set", h.Port, "up")
		hn("addr", "add", h.Addr4.String(), "dev", h.Link)
		hn("addr", "add", h.Addr6.String(), "dev", h.Link, "nodad")
		hn("link", "set", h.Link, "up")
		s.Hosts = append(s.Hosts, h)
	}
	if len(errs) > 0 {
		return s, errs[0]
	}
	// Wait (bounded) until every host has its link-local address usable.
	deadline := time.Now().Add(5 * time.Second)
	for _, h := range s.Hosts {
		for {
			out, _ := Run("ip", "-n", h.Name, "-6", "addr", "show", "dev", h.Link, "scope", "link")
			if strings.Contains(out, h.LinkLocal.String()) && !strings.Contains(out, "tentative") {
				break
			}
			if time.Now().After(deadline) {
				return s, fmt.Errorf("nstest: %s: no link-local %v: %s", h.Name, h.LinkLocal, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return s, nil
}

// Close deletes the segment's namespaces (and with them their links).
func (s *Segment) Close() error {
	var errs []error
	for i := len(s.created) - 1; i >= 0; i-- {
		if _, err := Run("ip", "netns", "del", s.created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	s.created = nil
	return errors.Join(errs...)
}

// Exec runs a command in h's namespace and returns its combined output.
func (h *Host) Exec(args ...string) (string, error) {
	return Run(append([]string{"ip", "netns", "exec", h.Name}, args...)...)
}

// Handle opens h's namespace; the caller closes it.
func (h *Host) Handle() (netns.NsHandle, error) { return netns.GetFromName(h.Name) }

// Do runs fn on an OS thread switched into h's namespace. Sockets fn opens
// stay in that namespace after it returns; goroutines fn starts do not.
func (h *Host) Do(fn func() error) error {
	target, err := h.Handle()
	if err != nil {
		return fmt.Errorf("nstest: open namespace %s: %w", h.Name, err)
	}
	defer target.Close()
	return DoIn(target, fn)
}

// DoIn runs fn on an OS thread switched into namespace target.
func DoIn(target netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("nstest: setns: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with its goroutine rather than
		// serving others from the wrong namespace.
		return fmt.Errorf("nstest: setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// SetLink sets h's interface up or down.
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	_, err := Run("ip", "-n", h.Name, "link", "set", h.Link, state)
	return err
}

// HasAddr reports whether h's interface holds addr.
func (h *Host) HasAddr(addr netip.Addr) (bool, error) {
	out, err := Run("ip", "-n", h.Name, "-o", "addr", "show", "dev", h.Link)
	if err != nil {
		return false, err
	}
	for _, f := range strings.Fields(out) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr() == addr {
			return true, nil
		}
	}
	return false, nil
}

// Buffer is a bytes.Buffer safe for one writer (a command's output) and
// concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Capture runs tcpdump on h's interface with a capture filter until the
// returned function is called; that function returns the Ethernet frames
// seen. tcpdump runs in immediate mode, so nothing is lost on stop. It
// fails t when tcpdump is missing and VIGIL_REQUIRE_NETNS=1, else skips.
func Capture(t testing.TB, h *Host, filter string) func() [][]byte {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("VIGIL_REQUIRE_NETNS") == "1" {
			t.Fatal("tcpdump is not installed, and VIGIL_REQUIRE_NETNS=1")
		}
		t.Skip("tcpdump is not installed")
	}
	file := filepath.Join(t.TempDir(), "cap.pcap")
	errb := &Buffer{}
	args := []string{"netns", "exec", h.Name, "tcpdump", "-i", h.Link, "--immediate-mode", "-U", "-n", "-w", file}
	if filter != "" {
		args = append(args, filter)
	}
	cmd := exec.Command("ip", args...)
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(errb.String(), "listening on") {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("tcpdump did not start: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return func() [][]byte {
		stop()
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatalf("%v (tcpdump: %s)", err, errb.String())
		}
		var out [][]byte
		for {
			data, _, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, data)
		}
	}
}

// Daemon is a process a test started in a host's namespace, with its
// output captured.
type Daemon struct {
	Name string
	Cmd  *exec.Cmd
	Out  *Buffer
	done chan struct{}
}

// StartDaemon runs args in h's namespace (ip netns exec, which execs the
// program, so the process is the daemon itself). It is stopped with
// SIGTERM (then SIGKILL) in t.Cleanup if still running, and its output is
// logged there if the test failed.
func StartDaemon(t testing.TB, h *Host, name string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{Name: name, Out: &Buffer{}, done: make(chan struct{})}
	d.Cmd = exec.Command("ip", append([]string{"netns", "exec", h.Name}, args...)...)
	d.Cmd.Stdout, d.Cmd.Stderr = d.Out, d.Out
	if err := d.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.Cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.Stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s log on %s:\n%s", name, h.Name, d.Out.String())
		}
	})
	return d
}

// Exited reports whether the process has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process, if it is still running.
func (d *Daemon) Signal(sig syscall.Signal) {
	if !d.Exited() {
		d.Cmd.Process.Signal(sig)
	}
}

// Stop sends sig and waits (at most 10 s, then SIGKILL) for the process
// to end.
func (d *Daemon) Stop(sig syscall.Signal) {
	if d.Exited() {
		return
	}
	d.Cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.Cmd.Process.Kill()
		<-d.done
	}
}
