//go:build linux

package vigil_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/netnsfile"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// Fixtures of the Supervisor's namespace tests
// (supervisor_netns_linux_test.go): Supervisors on the Linux platform in
// nstest hosts, their events, HTTP backends in a namespace the test's own
// reaches, HTTP servers on the VIPs, a notify FIFO's reader, keepalived.

// How long the kernel, the wire or a peer may take to show a change: a
// takeover is a few advert intervals (100 ms), a check round 200 ms; the
// rest is room for a loaded machine.
const netnsWait = 15 * time.Second

// netnsSup is a Supervisor running on the Linux platform in a host's
// namespace, with its events recorded and its log kept for a failure.
type netnsSup struct {
	t      *testing.T
	ns     *nstest.Host
	s      *vigil.Supervisor
	ev     *eventLog
	log    *nstest.Buffer
	cancel context.CancelFunc
	done   chan error
}

func startNetnsSup(t *testing.T, ns *nstest.Host, cfg vigil.Config) *netnsSup {
	t.Helper()
	logb := &nstest.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logb, nil))
	p, err := vigil.OpenLinux(vigil.LinuxConfig{Netns: ns.Path(), Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	s, err := vigil.New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &netnsSup{t: t, ns: ns, s: s, ev: recordEvents(s.Subscribe(1024)), log: logb, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("supervisor on %s: events:\n%s\nlog:\n%s", ns.Name, n.ev, logb)
		}
	})
	return n
}

// stop ends Run and waits for it (and for the event recorder, which
// ends with it). Calling it again does nothing.
func (n *netnsSup) stop() {
	n.t.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	if err := <-n.done; err != nil {
		n.t.Errorf("%s: Run: %v", n.ns.Name, err)
	}
	<-n.ev.done
}

// eventLog records a subscription's events until its channel closes.
type eventLog struct {
	mu   sync.Mutex
	evs  []vigil.Event
	done chan struct{}
}

func recordEvents(sub *vigil.Subscription) *eventLog {
	l := &eventLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for e := range sub.C() {
			l.mu.Lock()
			l.evs = append(l.evs, e)
			l.mu.Unlock()
		}
	}()
	return l
}

// wait polls (bounded) for the first event from index from on that
// matches, and returns its index and the event.
func (l *eventLog) wait(t *testing.T, what string, from int, match func(vigil.Event) bool) (int, vigil.Event) {
	t.Helper()
	deadline := time.Now().Add(netnsWait)
	for {
		l.mu.Lock()
		for i := from; i < len(l.evs); i++ {
			if match(l.evs[i]) {
				e := l.evs[i]
				l.mu.Unlock()
				return i, e
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no event within %v: %s; events:\n%s", netnsWait, what, l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mark returns the number of events so far: an index for wait and
// transitions to start from.
func (l *eventLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.evs)
}

// transitions lists instance's (or, with group set, the group's) state
// changes from event index from on, as "FROM->TO".
func (l *eventLog) transitions(name string, group bool, from int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs[from:] {
		if group && e.Kind == vigil.EventGroup && e.Group == name || !group && e.Kind == vigil.EventInstance && e.Instance == name {
			out = append(out, e.From.String()+"->"+e.To.String())
		}
	}
	return out
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.evs {
		fmt.Fprintf(&b, "  %s %v inst=%q group=%q %v->%v prio=%d tracker=%q up=%v err=%q\n",
			e.Time.Format("15:04:05.000"), e.Kind, e.Instance, e.Group, e.From, e.To, e.Priority, e.Tracker, e.Up, e.Err)
	}
	return b.String()
}

// settled polls (bounded) until each instance named is in state st, as
// the Supervisor's State says.
func (n *netnsSup) settled(t *testing.T, st vrrp.State, names ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s: %v in %v", n.ns.Name, names, st), netnsWait, func() bool {
		for _, is := range n.s.State().Instances {
			if slices.Contains(names, is.Name) && is.State != st.String() {
				return false
			}
		}
		return true
	})
}

func instanceTo(name string, to vrrp.State) func(vigil.Event) bool {
	return func(e vigil.Event) bool { return e.Kind == vigil.EventInstance && e.Instance == name && e.To == to }
}

func groupTo(name string, to vrrp.State) func(vigil.Event) bool {
	return func(e vigil.Event) bool { return e.Kind == vigil.EventGroup && e.Group == name && e.To == to }
}

func trackerIs(name string, up bool) func(vigil.Event) bool {
	return func(e vigil.Event) bool { return e.Kind == vigil.EventTracker && e.Tracker == name && e.Up == up }
}

// backendNet is a namespace joined to the test process's own by a veth
// pair, on a /30 from 198.51.100.0/24. Tracker checks run where the
// Supervisor's process runs (check.HTTP dials from there), so the
// backends they check listen here, reachable from the process.
type backendNet struct {
	name string
	// local is the process's side, remote the namespace's.
	local, remote netip.Addr
}

func newBackendNet(t *testing.T) *backendNet {
	t.Helper()
	nstest.Require(t)
	var id [3]byte
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	tag := "vgbk" + hex.EncodeToString(id[:]) // the namespace and the outer interface
	n := 4 * (1 + int(id[0])%62)              // 198.51.100.n/30, n+1 here, n+2 there
	b := &backendNet{name: tag, local: netip.AddrFrom4([4]byte{198, 51, 100, byte(n + 1)}),
		remote: netip.AddrFrom4([4]byte{198, 51, 100, byte(n + 2)})}
	nstest.MustRun(t, "ip", "netns", "add", b.name)
	t.Cleanup(func() {
		// Deleting the namespace deletes the pair; the outer end is
		// deleted first in case the namespace cannot be.
		nstest.Run("ip", "link", "del", tag)
		if _, err := nstest.Run("ip", "netns", "del", b.name); err != nil {
			t.Errorf("backend namespace: %v", err)
		}
	})
	for _, args := range [][]string{
		{"ip", "link", "add", tag, "type", "veth", "peer", "name", "eth0", "netns", b.name},
		{"ip", "addr", "add", b.local.String() + "/30", "dev", tag},
		{"ip", "link", "set", tag, "up"},
		{"ip", "-n", b.name, "link", "set", "lo", "up"},
		{"ip", "-n", b.name, "addr", "add", b.remote.String() + "/30", "dev", "eth0"},
		{"ip", "-n", b.name, "link", "set", "eth0", "up"},
	} {
		nstest.MustRun(t, args...)
	}
	return b
}

func (b *backendNet) path() string { return "/run/netns/" + b.name }

// serve starts an HTTP backend on port in the namespace, and waits
// (bounded) until the process reaches it.
func (b *backendNet) serve(t *testing.T, port uint16) *nsServer {
	t.Helper()
	s := serveIn(t, b.path(), netip.AddrPortFrom(b.remote, port), "backend "+strconv.Itoa(int(port)))
	url := "http://" + s.addr.String() + "/"
	deadline := time.Now().Add(netnsWait)
	for {
		_, err := httpGet(nil, url)
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %s unreachable from the test's namespace: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nsServer is an HTTP server listening in a namespace, answering every
// request with its body.
type nsServer struct {
	t     *testing.T
	netns string
	addr  netip.AddrPort
	body  string
	srv   *http.Server
	done  chan struct{}
}

// serveIn listens on addr in the namespace at path and serves body until
// close (or the test's end).
func serveIn(t *testing.T, path string, addr netip.AddrPort, body string) *nsServer {
	t.Helper()
	s := &nsServer{t: t, netns: path, addr: addr, body: body}
	s.start()
	t.Cleanup(s.close)
	return s
}

func (s *nsServer) start() {
	s.t.Helper()
	var ln net.Listener
	if err := netnsfile.Do(s.netns, func() (err error) {
		ln, err = net.Listen("tcp", s.addr.String())
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
	body := s.body
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	s.done = make(chan struct{})
	srv, done := s.srv, s.done
	go func() { defer close(done); srv.Serve(ln) }()
}

// close stops the server: its port refuses connections. Calling it again
// does nothing.
func (s *nsServer) close() {
	if s.srv == nil {
		return
	}
	s.srv.Close()
	<-s.done
	s.srv = nil
}

// httpGet fetches url with a fresh connection made in h's namespace (the
// process's own with h nil), and returns the body.
func httpGet(h *nstest.Host, url string) (string, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h == nil {
			return d.DialContext(ctx, network, addr)
		}
		var c net.Conn
		err := h.Do(func() (err error) {
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// serveOnVIPs runs, in each host, an HTTP server on port 8080 of each VIP
// (bound before the host holds it: ip_nonlocal_bind) answering the host's
// name, so that a witness sees who holds a VIP.
func serveOnVIPs(t *testing.T, hosts []*nstest.Host, vips ...netip.Prefix) {
	t.Helper()
	for _, h := range hosts {
		for _, key := range []string{"net.ipv4.ip_nonlocal_bind", "net.ipv6.ip_nonlocal_bind"} {
			if err := h.Sysctl(key, "1"); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range vips {
			serveIn(t, h.Path(), netip.AddrPortFrom(v.Addr(), 8080), h.Name)
		}
	}
}

// expectServedBy polls (bounded) until w's GET of vip:8080 is answered
// by holder, and pings vip from w.
func expectServedBy(t *testing.T, w *nstest.Host, vip netip.Addr, holder *nstest.Host) {
	t.Helper()
	url := "http://" + netip.AddrPortFrom(vip, 8080).String() + "/"
	deadline := time.Now().Add(netnsWait)
	for {
		got, err := httpGet(w, url)
		if err == nil && got == holder.Name {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("witness GET %s: %q, %v; want an answer from %s", url, got, err, holder.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := w.Ping(t, vip); err != nil {
		t.Fatalf("witness cannot ping %v: %v %s", vip, err, out)
	}
}

// expectVIPs polls (bounded) until holder has every VIP and each of
// others none.
func expectVIPs(t *testing.T, holder *nstest.Host, others []*nstest.Host, vips ...netip.Prefix) {
	t.Helper()
	names := []string{}
	for _, o := range others {
		names = append(names, o.Name)
	}
	eventually(t, fmt.Sprintf("%v on %s only (not on %v)", vips, holder.Name, names), netnsWait, func() bool {
		for _, v := range vips {
			if !hasAddr(t, holder, v.Addr()) {
				return false
			}
			for _, o := range others {
				if hasAddr(t, o, v.Addr()) {
					return false
				}
			}
		}
		return true
	})
}

// httpTracker is a tracker of an HTTP check of addr, every 200 ms, that
// falls and rises after one round.
func httpTracker(name string, addr netip.AddrPort, weight int) vigil.Tracker {
	return vigil.Tracker{Name: name, Weight: weight, Check: &vigil.TrackerCheck{
		Checker: &check.HTTP{Addr: addr, Path: "/health"},
		Policy:  check.Policy{Interval: 200 * time.Millisecond, Timeout: 2 * time.Second}}}
}

// netnsInst is an instance on eth0 advertising every 100 ms.
func netnsInst(name string, vrid, prio uint8, vip netip.Prefix, track ...string) vigil.Instance {
	in := supInst(name, vrid, prio, vip)
	in.VRRP.Interval = ival
	for _, tr := range track {
		in.Track = append(in.Track, vigil.Track{Tracker: tr})
	}
	return in
}

// trackModes are the two ways a failed check takes a master's place:
// weight 0 puts it in FAULT; weight -60 takes 150 down to 90, below the
// peer's 100, and it stays BACKUP.
var trackModes = []trackMode{
	{"fault", 0, vrrp.Fault},
	{"weight", -60, vrrp.Backup},
}

type trackMode struct {
	name   string
	weight int
	lost   vrrp.State // the tracking instance's state while its check fails
}

// masterTransitions are a master's transitions from its check failing to
// its being master again.
func (m trackMode) masterTransitions() []string {
	if m.lost == vrrp.Backup {
		return []string{"MASTER->BACKUP", "BACKUP->MASTER"}
	}
	return []string{"MASTER->" + m.lost.String(), m.lost.String() + "->BACKUP", "BACKUP->MASTER"}
}

// notifyDir makes a root-owned 0755 directory with a 0755 shell script
// that appends its arguments, one call a line, to the file calls there:
// what notify.Script.Check wants of a script run as root with script
// security on.
func notifyDir(t *testing.T) (dir, script, calls string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	calls = filepath.Join(dir, "calls")
	script = filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(script, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return dir, script, calls
}

// awaitLines polls (bounded) until read returns at least n lines, and
// returns them.
func awaitLines(t *testing.T, what string, n int, read func() []string) []string {
	t.Helper()
	deadline := time.Now().Add(netnsWait)
	for {
		got := read()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines within %v, want %d:\n%s", what, len(got), netnsWait, n, strings.Join(got, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fileLines returns the lines of the file at path (none if it does not
// exist yet).
func fileLines(path string) []string {
	b, _ := os.ReadFile(path)
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// fifoReader reads a FIFO's lines on a goroutine until end of file (its
// last writer closed it).
type fifoReader struct {
	f    *os.File
	mu   sync.Mutex
	got  []string
	done chan error
}

func readFIFO(t *testing.T, path string) *fifoReader {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDONLY, 0) // a writer has it open: no wait
	if err != nil {
		t.Fatal(err)
	}
	r := &fifoReader{f: f, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			r.mu.Lock()
			r.got = append(r.got, sc.Text())
			r.mu.Unlock()
		}
		r.done <- sc.Err()
	}()
	t.Cleanup(func() {
		f.Close() // ends the reader if the writer never closed
		<-r.done
	})
	return r
}

// lines returns the lines read so far.
func (r *fifoReader) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// end waits (bounded) for the end of file and returns every line.
func (r *fifoReader) end(t *testing.T) []string {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Errorf("reading the FIFO: %v", err)
		}
	case <-time.After(netnsWait):
		t.Errorf("the FIFO was not closed within %v", netnsWait)
	}
	return r.lines()
}

// keepalivedPeer is keepalived (VRRP only) in a host's namespace.
type keepalivedPeer struct {
	*nstest.Daemon
	dir string
}

// startKeepalivedPeer runs keepalived with conf in h's namespace, with
// its pid files in a directory of its own, as vrrp's interop tests do.
// It is stopped by PID in t.Cleanup.
func startKeepalivedPeer(t *testing.T, h *nstest.Host, conf string) *keepalivedPeer {
	t.Helper()
	bin := nstest.NeedTools(t, "keepalived")[0]
	dir := t.TempDir()
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &keepalivedPeer{dir: dir}
	k.Daemon = nstest.StartDaemon(t, h, "keepalived", bin, "-n", "-l", "-D", "-G", "-P", "-f", cf,
		"-p", filepath.Join(dir, "ka.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	t.Cleanup(func() {
		// Runs before StartDaemon's SIGTERM: the VRRP child first.
		b, _ := os.ReadFile(filepath.Join(dir, "vrrp.pid"))
		if p, _ := strconv.Atoi(strings.TrimSpace(string(b))); p > 0 && !k.Exited() {
			syscall.Kill(p, syscall.SIGKILL)
		}
		k.Stop(syscall.SIGKILL)
	})
	return k
}

// awaitLog waits (bounded) until keepalived has logged s n times.
func (k *keepalivedPeer) awaitLog(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(netnsWait)
	for strings.Count(k.Out.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("keepalived did not log %q (x%d) within %v:\n%s", s, n, netnsWait, k.Out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keepalivedComplaints returns keepalived's log lines that say it
// disliked a packet, ignoring case; not "received lower priority (N)
// advert ... - discarding", which is its preemption of a master whose
// priority dropped.
func keepalivedComplaints(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ll := strings.ToLower(l)
		if strings.Contains(ll, "received lower priority") {
			continue
		}
		for _, w := range []string{"invalid", "mismatch", "bad ", "error", "wrong", "discard", "ignoring", "does not match"} {
			if strings.Contains(ll, w) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
