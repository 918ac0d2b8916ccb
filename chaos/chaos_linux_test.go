//go:build linux

package chaos

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vigil-ha/vigil/internal/nstest"
)

var (
	flagDuration = flag.Duration("chaos.duration", 0, "how long each run makes events (0: 40 s for vigild alone, 20 s mixed with keepalived)")
	flagSeed     = flag.Uint64("chaos.seed", 0, "the events' seed (0: a random one, printed)")
)

// The segment's VRRP: one VRRPv3 instance, VRID 51, adverts every 100 ms.
const (
	interval = 100 * time.Millisecond
	// mdi is the longest Master_Down_Interval of the three routers:
	// 3 × interval + Skew_Time at the lowest priority (20/256... of an
	// interval at priority 20 is the worst: 236/256 × 100 ms).
	mdi = 3*interval + 236*interval/256
	// slack is what a loaded 2-core machine may add to a deadline: a
	// process start, a scheduling delay, the capture's own.
	slack = 250 * time.Millisecond
)

var vip = netip.MustParseAddr("192.0.2.100")

// router is one of the three VRRP routers and what the test did to it.
type router struct {
	i          int // 1..3
	h          *nstest.Host
	keepalived bool
	prio       int // configured priority
	dir, conf  string
	d          *nstest.Daemon
	running    bool
	linkUp     bool
	isolated   bool // its switch port disabled
	lowered    bool // its tracked file takes 80 off its priority
	longLived  bool // never killed or stopped: its fds and goroutines are watched
}

func (r *router) name() string {
	if r.keepalived {
		return fmt.Sprintf("r%d(keepalived)", r.i)
	}
	return fmt.Sprintf("r%d", r.i)
}

// effective is the priority the router advertises while it can.
func (r *router) effective() int {
	if r.lowered {
		return r.prio - 80
	}
	return r.prio
}

// live reports whether the segment can hear the router.
func (r *router) live() bool { return r.running && r.linkUp && !r.isolated }

// confTemplate is each router's keepalived.conf. higher_prio_send_advert:
// after a partition heals, the master that yields sends one last advert,
// so the higher-priority master hears a lower priority and announces the
// VIP again; without it the segment's ARP caches may keep pointing at the
// master that yielded (the test checks every new master's gratuitous
// ARP).
const confTemplate = `global_defs {
  router_id chaos%d
  vrrp_version 3
}
track_file tf {
  file %s
  weight 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  advert_int 0.1
  higher_prio_send_advert
  virtual_ipaddress {
    192.0.2.100/24
  }
  track_file {
    tf
  }
}
`

// checkpoint is a time at which exactly one router, want, must be the
// master seen on the segment.
type checkpoint struct {
	at   time.Time
	want int // router index
	why  string
}

// world is one run.
type world struct {
	t       *testing.T
	seg     *nstest.Segment
	routers []*router
	vigild  string
	rnd     *rand.Rand
	seed    uint64
	events  []string
	checks  []checkpoint
	start   time.Time
}

func (w *world) logf(format string, args ...any) {
	e := fmt.Sprintf("%8.3fs ", time.Since(w.start).Seconds()) + fmt.Sprintf(format, args...)
	w.events = append(w.events, e)
}

// sh runs a command and fails the test on error.
func (w *world) sh(args ...string) {
	w.t.Helper()
	if out, err := nstest.Run(args...); err != nil {
		w.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (w *world) startRouter(r *router) {
	w.t.Helper()
	if r.keepalived {
		r.d = nstest.StartDaemon(w.t, r.h, r.name(), "keepalived", "-n", "-l", "-D", "-P", "-f", r.conf,
			"-p", filepath.Join(r.dir, "k.pid"), "-r", filepath.Join(r.dir, "v.pid"),
			"-c", filepath.Join(r.dir, "c.pid"), "-b", filepath.Join(r.dir, "b.pid"))
	} else {
		r.d = nstest.StartDaemon(w.t, r.h, r.name(), w.vigild, "-n", "-l", "-f", r.conf,
			"-p", filepath.Join(r.dir, "vigild.pid"), "-r", filepath.Join(r.dir, "vrrp.pid"),
			"-c", filepath.Join(r.dir, "checkers.pid"), "--control-socket", filepath.Join(r.dir, "ctl.sock"),
			"--metrics-address", "127.0.0.1:9650")
	}
	r.running = true
}

// stopRouter ends r with sig and checks a graceful stop's exit status.
func (w *world) stopRouter(r *router, sig syscall.Signal) {
	w.t.Helper()
	if r.keepalived {
		// keepalived's VRRP child outlives a killed parent; SIGTERM to
		// the parent stops both.
		r.d.Stop(syscall.SIGTERM)
	} else {
		r.d.Stop(sig)
	}
	r.running = false
	if sig == syscall.SIGTERM && !r.keepalived {
		if code := r.d.Cmd.ProcessState.ExitCode(); code != 0 {
			w.t.Errorf("%s exited %d after SIGTERM:\n%s", r.name(), code, r.d.Out.String())
		}
	}
	w.checkLog(r)
}

// checkLog fails the test if a router's output shows a crash.
func (w *world) checkLog(r *router) {
	out := r.d.Out.String()
	for _, bad := range []string{"panic:", "fatal error:", "DATA RACE", "SIGSEGV"} {
		if strings.Contains(out, bad) {
			w.t.Errorf("%s: %q in its output:\n%s", r.name(), bad, out)
		}
	}
}

func (w *world) setTrack(r *router, lowered bool) {
	w.t.Helper()
	v := "0\n"
	if lowered {
		v = "-80\n"
	}
	if err := os.WriteFile(filepath.Join(r.dir, "track"), []byte(v), 0o644); err != nil {
		w.t.Fatal(err)
	}
	r.lowered = lowered
}

// setLink sets r's interface up or down (the router sees it).
func (w *world) setLink(r *router, up bool) {
	w.t.Helper()
	if err := r.h.SetLink(up); err != nil {
		w.t.Fatal(err)
	}
	r.linkUp = up
}

// isolate disables r's switch port (a partition the router does not
// see: its link stays up, the bridge forwards nothing to or from it), or
// sets it forwarding again.
func (w *world) isolate(r *router, on bool) {
	w.t.Helper()
	state := "3" // forwarding
	if on {
		state = "0" // disabled
	}
	w.sh("ip", "netns", "exec", w.seg.Switch, "bridge", "link", "set", "dev", r.h.Port, "state", state)
	r.isolated = on
}

// expected is the router that must be master now: the live one with the
// highest effective priority.
func (w *world) expected() int {
	best := 0
	for _, r := range w.routers {
		if r.live() && (best == 0 || r.effective() > w.routers[best-1].effective()) {
			best = r.i
		}
	}
	return best
}

func (w *world) expect(at time.Time, why string) {
	w.checks = append(w.checks, checkpoint{at: at, want: w.expected(), why: why})
}

// sleep waits d: the chaos schedule's own pacing, not a wait for a
// result (results are judged from the capture against deadlines).
func sleep(d time.Duration) { time.Sleep(d) }

// event makes one fault on a router chosen at random, holds it, undoes
// it, and lets the segment settle, recording when which router must be
// master.
func (w *world) event() {
	kinds := []string{"kill", "stop", "link", "partition", "priority"}
	r := w.routers[w.rnd.IntN(len(w.routers))]
	kind := kinds[w.rnd.IntN(len(kinds))]
	if (kind == "kill" || kind == "stop") && r.longLived {
		kind = "link"
	}
	if kind == "kill" && r.keepalived {
		// keepalived's parent restarts a killed VRRP child itself: stop
		// it instead.
		kind = "stop"
	}
	hold := 2*time.Second + time.Duration(w.rnd.IntN(500))*time.Millisecond
	deadline := mdi + slack
	switch kind {
	case "kill":
		w.logf("%s: SIGKILL", r.name())
		w.stopRouter(r, syscall.SIGKILL)
	case "stop":
		w.logf("%s: SIGTERM", r.name())
		w.stopRouter(r, syscall.SIGTERM)
	case "link":
		w.logf("%s: link down", r.name())
		w.setLink(r, false)
	case "partition":
		w.logf("%s: partitioned", r.name())
		w.isolate(r, true)
	case "priority":
		w.logf("%s: tracked file lowers its priority by 80", r.name())
		w.setTrack(r, true)
		deadline += time.Second // vigil reads track files every second
	}
	// The deadlines count from when the fault is in effect: once the
	// command that makes it has returned. Taken before it, they counted
	// the command's own time against the routers: on a loaded machine
	// `ip netns exec ... bridge link set` took 300 ms, and a backup that
	// took over exactly Master_Down_Interval after the last advert it
	// heard missed a checkpoint (TestChaosVigild in CI).
	at := time.Now()
	w.expect(at.Add(deadline), fmt.Sprintf("%s %s", r.name(), kind))
	w.expect(at.Add(hold-50*time.Millisecond), fmt.Sprintf("%s %s, held", r.name(), kind))
	sleep(hold)

	deadline = mdi + slack
	switch kind {
	case "kill", "stop":
		w.logf("%s: restarted", r.name())
		w.startRouter(r)
		deadline += 300 * time.Millisecond // the process starts
	case "link":
		w.logf("%s: link up", r.name())
		w.setLink(r, true)
	case "partition":
		w.logf("%s: healed", r.name())
		w.isolate(r, false)
	case "priority":
		w.logf("%s: tracked file restores its priority", r.name())
		w.setTrack(r, false)
		deadline += time.Second
	}
	settle := 2 * time.Second
	at = time.Now() // the fault undone (see above)
	w.expect(at.Add(deadline), fmt.Sprintf("%s %s undone", r.name(), kind))
	w.expect(at.Add(settle-50*time.Millisecond), fmt.Sprintf("%s %s undone, settled", r.name(), kind))
	sleep(settle)
}

// advert is a VRRP advert or a gratuitous ARP for the VIP seen on the
// segment.
type frame struct {
	at     time.Time
	router int // by source address / MAC, 0 if none of the three
	prio   int // -1 for a GARP
}

func readCapture(t *testing.T, file string) []frame {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	var out []frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < 14 {
			continue
		}
		switch {
		case data[12] == 0x08 && data[13] == 0x00 && len(data) >= 14+20+8 && data[14+9] == 112:
			ihl := int(data[14]&0x0f) * 4
			src := netip.AddrFrom4([4]byte(data[14+12 : 14+16]))
			v := data[14+ihl:]
			if len(v) < 8 || v[1] != 51 {
				continue
			}
			out = append(out, frame{at: ci.Timestamp, router: hostOf(src), prio: int(v[2])})
		case data[12] == 0x08 && data[13] == 0x06 && len(data) >= 42:
			spa := netip.AddrFrom4([4]byte(data[28:32]))
			tpa := netip.AddrFrom4([4]byte(data[38:42]))
			if spa == vip && tpa == vip {
				// The sender MAC is 02:00:00:00:01:i (nstest).
				out = append(out, frame{at: ci.Timestamp, router: int(data[27]), prio: -1})
			}
		}
	}
}

func hostOf(a netip.Addr) int {
	b := a.As4()
	if b[0] == 192 && b[1] == 0 && b[2] == 2 && b[3] >= 1 && b[3] <= 3 {
		return int(b[3])
	}
	return 0
}

// span is a router's time as the master the segment hears: adverts with
// priority above zero, none more than 2 intervals apart.
type span struct {
	router      int
	first, last time.Time
}

func spans(frames []frame) []span {
	var out []span
	open := map[int]int{} // router → index in out
	for _, f := range frames {
		if f.prio < 0 || f.router == 0 {
			continue
		}
		i, ok := open[f.router]
		if f.prio == 0 {
			delete(open, f.router)
			continue
		}
		if ok && f.at.Sub(out[i].last) <= 2*interval+slack/2 {
			out[i].last = f.at
			continue
		}
		open[f.router] = len(out)
		out = append(out, span{router: f.router, first: f.at, last: f.at})
	}
	return out
}

// judge checks the run's invariants against the capture.
func (w *world) judge(frames []frame, end time.Time) {
	t := w.t
	ss := spans(frames)
	if len(ss) == 0 {
		t.Fatalf("no master advert captured")
	}
	// 1. Never two masters for longer than one advert interval.
	for i := range ss {
		for j := i + 1; j < len(ss); j++ {
			a, b := ss[i], ss[j]
			if a.router == b.router {
				continue
			}
			lo, hi := later(a.first, b.first), earlier(a.last, b.last)
			if d := hi.Sub(lo); d > interval+slack/2 {
				t.Errorf("r%d and r%d both master for %v (from %v)", a.router, b.router, d.Round(time.Millisecond), w.rel(lo))
			}
		}
	}
	// 2. No master-less gap longer than Master_Down_Interval + 1 advert
	// interval (one router at a time is faulted: two are always live).
	var last time.Time
	for _, f := range frames {
		if f.prio <= 0 || f.router == 0 {
			continue
		}
		if !last.IsZero() && f.at.Sub(last) > mdi+interval+slack {
			t.Errorf("no master advert for %v (from %v)", f.at.Sub(last).Round(time.Millisecond), w.rel(last))
		}
		last = f.at
	}
	if end.Sub(last) > mdi+interval+slack {
		t.Errorf("no master advert in the last %v", end.Sub(last).Round(time.Millisecond))
	}
	// 3. At each checkpoint the expected router, and only it, is master.
	for _, c := range w.checks {
		var masters []int
		for _, f := range frames {
			if f.prio > 0 && f.router != 0 && !f.at.Before(c.at.Add(-2*interval)) && !f.at.After(c.at) && !slices.Contains(masters, f.router) {
				masters = append(masters, f.router)
			}
		}
		if len(masters) != 1 || masters[0] != c.want {
			t.Errorf("at %v (%s): masters heard %v, want r%d; frames from 1 s before:\n%s", w.rel(c.at), c.why, masters, c.want,
				w.framesAround(frames, c.at.Add(-time.Second), c.at.Add(interval)))
		}
	}
	// 4. A router that becomes master announces the VIP.
	for _, s := range ss {
		if s.last.Sub(s.first) < 5*interval {
			continue
		}
		ok := false
		for _, f := range frames {
			if f.prio < 0 && f.router == s.router && !f.at.Before(s.first.Add(-interval)) && f.at.Sub(s.first) <= slack {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("r%d became master at %v without a gratuitous ARP for %v", s.router, w.rel(s.first), vip)
		}
	}
}

func (w *world) rel(at time.Time) string { return fmt.Sprintf("%.3fs", at.Sub(w.start).Seconds()) }

// framesAround lists the frames captured from lo to hi, one a line, for
// a failure's message: when, whose, what.
func (w *world) framesAround(frames []frame, lo, hi time.Time) string {
	var b strings.Builder
	for _, f := range frames {
		if f.at.Before(lo) || f.at.After(hi) {
			continue
		}
		what := fmt.Sprintf("advert priority %d", f.prio)
		if f.prio < 0 {
			what = "GARP"
		}
		fmt.Fprintf(&b, "    %s r%d %s\n", w.rel(f.at), f.router, what)
	}
	return b.String()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// usage is a long-lived vigild's open files and goroutines.
type usage struct{ fds, goroutines int }

func (w *world) usage(r *router) usage {
	w.t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", r.d.Cmd.Process.Pid))
	if err != nil {
		w.t.Fatal(err)
	}
	u := usage{fds: len(fds), goroutines: -1}
	// The socket is made on the thread in r's namespace (net/http's
	// transport would dial from another thread).
	err = r.h.Do(func() error {
		c, err := net.Dial("tcp", "127.0.0.1:9650")
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
				u.goroutines, _ = strconv.Atoi(v)
			}
		}
		return sc.Err()
	})
	if err != nil || u.goroutines < 0 {
		w.t.Fatalf("%s's /metrics: %v (go_goroutines %d)", r.name(), err, u.goroutines)
	}
	return u
}

func run(t *testing.T, mixed bool, duration time.Duration) {
	seg := nstest.NewSegment(t, 4)
	tools := []string{"tcpdump", "bridge"}
	if mixed {
		tools = append(tools, "keepalived")
	}
	nstest.NeedTools(t, tools...)
	seed := *flagSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	w := &world{t: t, seg: seg, vigild: nstest.GoBuild(t, "github.com/vigil-ha/vigil/cmd/vigild"),
		rnd: rand.New(rand.NewPCG(seed, 0x5eed)), seed: seed}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (replay: go test ./chaos/ -run '%s' -chaos.seed %d); events:\n%s",
				seed, t.Name(), seed, strings.Join(w.events, "\n"))
		}
	})

	dir := t.TempDir()
	for i, prio := range []int{150, 120, 100} {
		r := &router{i: i + 1, h: seg.Hosts[i], prio: prio, linkUp: true, dir: filepath.Join(dir, fmt.Sprintf("r%d", i+1))}
		r.keepalived = mixed && i == 2
		r.longLived = i == 0
		r.conf = filepath.Join(r.dir, "keepalived.conf")
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.conf, fmt.Appendf(nil, confTemplate, r.i, filepath.Join(r.dir, "track"), prio), 0o644); err != nil {
			t.Fatal(err)
		}
		w.routers = append(w.routers, r)
		w.setTrack(r, false)
	}
	capFile := filepath.Join(dir, "segment.pcap")
	tcpdump := nstest.StartDaemon(t, seg.Hosts[3], "tcpdump", "tcpdump", "-i", "eth0", "-U", "--immediate-mode", "-n", "-w", capFile, "proto 112 or arp")
	for !strings.Contains(tcpdump.Out.String(), "listening on") {
		if tcpdump.Exited() {
			t.Fatalf("tcpdump: %s", tcpdump.Out.String())
		}
		sleep(10 * time.Millisecond)
	}
	w.start = time.Now()
	for _, r := range w.routers {
		w.startRouter(r)
	}
	w.logf("started: r1 150, r2 120, r3 100%s", map[bool]string{true: " (keepalived)", false: ""}[mixed])
	sleep(2 * time.Second)
	w.expect(time.Now(), "start")
	base := w.usage(w.routers[0])

	for time.Since(w.start) < duration {
		w.event()
	}
	end := time.Now()
	w.expect(end, "end")
	// Only the master holds the VIP.
	for _, r := range w.routers {
		has, err := r.h.HasAddr(vip)
		if err != nil {
			t.Fatal(err)
		}
		if want := r.i == w.expected(); has != want {
			t.Errorf("at the end %s holds the VIP: %v, want %v", r.name(), has, want)
		}
	}
	// The long-lived vigild did not grow.
	u := w.usage(w.routers[0])
	if u.fds > base.fds+2 || u.goroutines > base.goroutines+10 {
		t.Errorf("%s grew: %d → %d fds, %d → %d goroutines", w.routers[0].name(), base.fds, u.fds, base.goroutines, u.goroutines)
	}
	t.Logf("%s: %d → %d fds, %d → %d goroutines; %d events", w.routers[0].name(), base.fds, u.fds, base.goroutines, u.goroutines, len(w.events)-1)
	for _, r := range w.routers {
		w.stopRouter(r, syscall.SIGTERM)
	}
	sleep(3 * interval) // the last frames reach the capture
	tcpdump.Stop(syscall.SIGTERM)
	frames := readCapture(t, capFile)
	w.judge(frames, end)
	if !t.Failed() {
		t.Logf("seed %d: %d frames captured, %d checkpoints held", seed, len(frames), len(w.checks))
	}
}

func duration(def time.Duration) time.Duration {
	if *flagDuration > 0 {
		return *flagDuration
	}
	return def
}

// TestChaosVigild: three vigild routers under random faults.
func TestChaosVigild(t *testing.T) { run(t, false, duration(40*time.Second)) }

// TestChaosMixed: two vigild routers and keepalived 2.2.7 under random
// faults (keepalived is stopped, not killed: its parent would restart a
// killed VRRP child by itself).
func TestChaosMixed(t *testing.T) { run(t, true, duration(20*time.Second)) }
