// Package nstest builds throwaway network topologies in Linux network
// namespaces for tests: N hosts, each in its own namespace with one veth
// "eth0", joined by a bridge in a switch namespace. Hosts get fixed MACs and
// addresses from the documentation ranges (192.0.2.0/24, 2001:db8::/64),
// and everything is deleted in t.Cleanup, even when the test fails.
//
// # What a test needs, and skipping without it
//
// Namespace tests need Linux, root and ip(8): NewSegment checks with
// Require (Root, then NeedTools(t, "ip")). A test that runs another
// program declares it with NeedTools, which looks each one up (in $PATH,
// then /usr/local/sbin, /usr/sbin and /sbin; a name with a slash, such as
// FRR's /usr/lib/frr/vrrpd, as is) and skips naming every missing one with
// the Debian package that provides it:
//
//	missing ping (apt-get install -y iputils-ping), tcpdump (apt-get install -y tcpdump)
//
// The helpers that run a program check it themselves, so a caller cannot
// forget: Host.Ping (ping, from iputils-ping), Capture (tcpdump) and
// StartDaemon (its program: keepalived, FRR's zebra and vrrpd). Tests still
// call NeedTools first when the program is used midway, so that they skip
// before doing anything. Build and Host.Sysctl write /proc/sys themselves:
// nothing needs procps.
//
// With VIGIL_REQUIRE_NETNS=1 (as in CI) every such skip is a failure, so
// a run cannot pass by skipping. Without root, `go test ./...` passes with
// these tests skipped.
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
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netns"
)

// Require skips t unless it can create network namespaces: Root, and ip(8)
// from iproute2. With VIGIL_REQUIRE_NETNS=1 it fails t instead of skipping.
func Require(t testing.TB) {
	t.Helper()
	Root(t)
	NeedTools(t, "ip")
}

// Root skips t unless it runs on Linux as root. With VIGIL_REQUIRE_NETNS=1
// it fails t instead of skipping.
func Root(t testing.TB) {
	t.Helper()
	switch {
	case runtime.GOOS != "linux":
		Unavailable(t, "network namespaces need Linux")
	case os.Geteuid() != 0:
		Unavailable(t, "network namespace tests need root")
	}
}

// packages are the Debian packages providing the programs tests run, by
// the program's base name.
var packages = map[string]string{
	"ip":         "iproute2",
	"ping":       "iputils-ping",
	"tcpdump":    "tcpdump",
	"nft":        "nftables",
	"keepalived": "keepalived",
	"zebra":      "frr",
	"vrrpd":      "frr",
	"vtysh":      "frr",
	"bgpd":       "frr",
	"bird":       "bird2",
	"birdc":      "bird2",
	"ipvsadm":    "ipvsadm",
	"sysctl":     "procps",
	"cc":         "gcc libc6-dev",
}

// sbinDirs are searched after $PATH, which often lacks them.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// LookTool returns the path of program name: from $PATH, else from the
// sbin directories. A name with a slash is checked as it is.
func LookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil || strings.Contains(name, "/") {
		return p, err
	}
	for _, dir := range sbinDirs {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", err
}

// NeedTools skips t unless every one of tools is installed (see LookTool),
// naming each missing one and the Debian package to install:
// "missing ping (apt-get install -y iputils-ping)". With
// VIGIL_REQUIRE_NETNS=1 it fails t instead of skipping. It returns the
// tools' paths, in order.
func NeedTools(t testing.TB, tools ...string) []string {
	t.Helper()
	paths := make([]string, len(tools))
	var missing []string
	for i, name := range tools {
		p, err := LookTool(name)
		if err != nil {
			how := "not found"
			if pkg, ok := packages[filepath.Base(name)]; ok {
				how = "apt-get install -y " + pkg
			}
			missing = append(missing, fmt.Sprintf("%s (%s)", name, how))
			continue
		}
		paths[i] = p
	}
	if len(missing) > 0 {
		Unavailable(t, "missing "+strings.Join(missing, ", "))
	}
	return paths
}

// Unavailable skips t for why (root, a namespace or a program is
// missing), or fails it when VIGIL_REQUIRE_NETNS=1 (as in CI), so that CI
// never passes by skipping. Every test that cannot run here calls it.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("VIGIL_REQUIRE_NETNS") == "1" {
		t.Fatalf("%s, and VIGIL_REQUIRE_NETNS=1", why)
	}
	t.Skip(why)
}

// tool is the path of program name (LookTool), or name when not found.
func tool(name string) string {
	if p, err := LookTool(name); err == nil {
		return p
	}
	return name
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
	cmd := exec.Command(tool(args[0]), args[1:]...)
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
		for _, key := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
			if len(errs) == 0 {
				if err := h.Sysctl(key, "0"); err != nil {
					errs = append(errs, err)
				}
			}
		}
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
// The program is looked up as by LookTool.
func (h *Host) Exec(args ...string) (string, error) {
	return Run(append([]string{"ip", "netns", "exec", h.Name, tool(args[0])}, args[1:]...)...)
}

// Ping sends one echo request from h to addr (ICMPv6 for an IPv6 address)
// and waits up to 2 s for the reply, returning ping's output. Without
// ping(8) it skips t (NeedTools).
func (h *Host) Ping(t testing.TB, addr netip.Addr) (string, error) {
	t.Helper()
	args := []string{NeedTools(t, "ping")[0], "-c", "1", "-W", "2"}
	if addr.Is6() {
		args = append(args, "-6")
	}
	return h.Exec(append(args, addr.String())...)
}

// Sysctl sets key to value in h's namespace by writing /proc/sys (no
// sysctl(8) needed). key is dotted as for sysctl(8),
// "net.ipv6.conf.eth0.accept_dad", or a path under /proc/sys when a name
// in it has a dot ("net/ipv4/conf/vrrp.51/arp_ignore").
func (h *Host) Sysctl(key, value string) error {
	p := key
	if !strings.Contains(key, "/") {
		p = strings.ReplaceAll(key, ".", "/")
	}
	p = filepath.Join("/proc/sys", p)
	return h.Do(func() error {
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			return fmt.Errorf("nstest: %s: sysctl %s=%s: %w", h.Name, key, value, err)
		}
		return nil
	})
}

// Handle opens h's namespace; the caller closes it.
func (h *Host) Handle() (netns.NsHandle, error) { return netns.GetFromName(h.Name) }

// Do runs fn on an OS thread switched into h's namespace. Sockets fn opens
// stay in that namespace after it returns; goroutines fn starts do not.
func (h *Host) Do(fn func() error) error { return DoInNamed(h.Name, fn) }

// DoInNamed runs fn on an OS thread switched into the namespace named
// name (as `ip netns` names it), as Host.Do does for a host's.
func DoInNamed(name string, fn func() error) error {
	target, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("nstest: open namespace %s: %w", name, err)
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
// seen, every frame the filter passed until then included: the stop
// waits for tcpdump to have read them all (LiveCapture.Stop).
// Without tcpdump it skips t (NeedTools).
func Capture(t testing.TB, h *Host, filter string) func() [][]byte {
	t.Helper()
	c := CaptureLive(t, h, filter)
	return func() [][]byte {
		c.Stop()
		return c.Frames()
	}
}

// LiveCapture is a capture whose frames can be read while it runs:
// tcpdump writes each frame to its file as it arrives (-U), so a test can
// wait until the frame it asserts on is in.
type LiveCapture struct {
	t    testing.TB
	file string
	errb *Buffer
	stop func()
}

// CaptureLive starts a capture as Capture does; Frames reads it at any
// time, Stop ends it (t.Cleanup also does).
func CaptureLive(t testing.TB, h *Host, filter string) *LiveCapture {
	t.Helper()
	tcpdump := NeedTools(t, "tcpdump")[0]
	file := filepath.Join(t.TempDir(), "cap.pcap")
	errb := &Buffer{}
	// An 8 MiB ring of 2 KiB frames: with the default snap length (256
	// KiB) a burst of 1,000 small frames overflowed it (kernel drops)
	// whatever the buffer size; immediate mode sizes the ring's slots by
	// the snap length.
	args := []string{"netns", "exec", h.Name, tcpdump, "-i", h.Link, "--immediate-mode", "-U", "-B", "8192", "-s", "2048",
		"-n", "-w", file}
	if filter != "" {
		args = append(args, filter)
	}
	cmd := exec.Command(tool("ip"), args...)
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			settle(cmd.Process, errb)
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
	return &LiveCapture{t: t, file: file, errb: errb, stop: stop}
}

// Stop ends the capture once tcpdump has read every frame the kernel
// passed it (settle); calling it again does nothing.
func (c *LiveCapture) Stop() { c.stop() }

// statsRE is tcpdump's answer to SIGUSR1.
var statsRE = regexp.MustCompile(`(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel`)

// settle waits, for 2 s at most, until tcpdump (p, its stderr in errb)
// has taken every frame its filter passed: captured and dropped add up to
// received, in the counters it prints on SIGUSR1. A SIGTERM sent while
// frames still wait in its ring ends it without them (a burst sent just
// before the stop: TestPacketSendNoAllocs once counted 204 frames at the
// peer's interface and 41 in its capture).
func settle(p *os.Process, errb *Buffer) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		before := len(statsRE.FindAllString(errb.String(), -1))
		if p.Signal(syscall.SIGUSR1) != nil {
			return // exited
		}
		var m []string
		for time.Now().Before(deadline) {
			all := statsRE.FindAllStringSubmatch(errb.String(), -1)
			if len(all) > before {
				m = all[len(all)-1]
				break
			}
			time.Sleep(time.Millisecond)
		}
		if m == nil {
			return
		}
		captured, _ := strconv.Atoi(m[1])
		received, _ := strconv.Atoi(m[2])
		dropped, _ := strconv.Atoi(m[3])
		if captured+dropped >= received {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Frames returns the Ethernet frames captured so far (a frame tcpdump
// is still writing is left for the next call).
func (c *LiveCapture) Frames() [][]byte {
	c.t.Helper()
	f, err := os.Open(c.file)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil // the file header is not written yet
	}
	if err != nil {
		c.t.Fatalf("%v (tcpdump: %s)", err, c.errb.String())
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out
		}
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, data)
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
// program, so the process is the daemon itself). Without the program it
// skips t (NeedTools). The daemon is stopped with SIGTERM (then SIGKILL)
// in t.Cleanup if still running, and its output is logged there if the
// test failed.
func StartDaemon(t testing.TB, h *Host, name string, args ...string) *Daemon {
	t.Helper()
	bin := NeedTools(t, args[0])[0]
	d := &Daemon{Name: name, Out: &Buffer{}, done: make(chan struct{})}
	d.Cmd = exec.Command(tool("ip"), append([]string{"netns", "exec", h.Name, bin}, args[1:]...)...)
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
