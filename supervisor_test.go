package vigil_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/goroutines"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// memSup is a Supervisor on an in-memory platform, recording its events.
type memSup struct {
	p    *vigiltest.Platform
	s    *vigil.Supervisor
	sub  *vigil.Subscription
	done chan error
	t0   time.Time
}

func startSup(t *testing.T, hub *vrrptest.Hub, i byte, cfg vigil.Config, ifaces ...string) *memSup {
	t.Helper()
	return startSupOn(t, memHostCfg(hub, i, ifaces...), cfg)
}

// memHostCfg is host i on hub: 192.0.2.i and fe80::i.
func memHostCfg(hub *vrrptest.Hub, i byte, ifaces ...string) vigiltest.Config {
	return vigiltest.Config{Hub: hub, Interfaces: ifaces,
		Addr4: netip.AddrFrom4([4]byte{192, 0, 2, i}), Addr6: netip.AddrFrom16([16]byte{0xfe, 0x80, 15: i})}
}

func startSupOn(t *testing.T, pc vigiltest.Config, cfg vigil.Config) *memSup {
	t.Helper()
	p, err := vigiltest.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := vigil.New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &memSup{p: p, s: s, sub: s.Subscribe(1024), done: make(chan error, 1), t0: time.Now()}
}

func (m *memSup) run(ctx context.Context) { go func() { m.done <- m.s.Run(ctx) }() }

// events returns the events so far of the kinds given, formatted with
// their virtual times since t0.
func (m *memSup) events(kinds ...vigil.EventKind) []string {
	var out []string
	for {
		select {
		case e, ok := <-m.sub.C():
			if !ok {
				return out
			}
			for _, k := range kinds {
				if e.Kind == k {
					out = append(out, m.format(e))
				}
			}
		default:
			return out
		}
	}
}

func (m *memSup) format(e vigil.Event) string {
	at := e.Time.Sub(m.t0).String()
	switch e.Kind {
	case vigil.EventInstance:
		return fmt.Sprintf("%s %s %v->%v %d", at, e.Instance, e.From, e.To, e.Priority)
	case vigil.EventGroup:
		return fmt.Sprintf("%s group %s %v->%v", at, e.Group, e.From, e.To)
	case vigil.EventPriority:
		return fmt.Sprintf("%s %s priority %d", at, e.Instance, e.Priority)
	case vigil.EventTracker:
		return fmt.Sprintf("%s tracker %s up=%v", at, e.Tracker, e.Up)
	}
	return at + " " + e.Kind.String()
}

// flag is a check whose result the test sets.
type flag struct{ down atomic.Bool }

func (f *flag) Check(context.Context) error {
	if f.down.Load() {
		return errors.New("down")
	}
	return nil
}

func checkTracker(name string, f *flag, weight int) vigil.Tracker {
	return vigil.Tracker{Name: name, Weight: weight, Check: &vigil.TrackerCheck{Checker: f,
		Policy: check.Policy{Interval: time.Second, Timeout: 500 * time.Millisecond}}}
}

func supInst(name string, vrid, prio uint8, vips ...netip.Prefix) vigil.Instance {
	return vigil.Instance{InstanceConfig: vigil.InstanceConfig{Interface: "eth0",
		VRRP: vrrp.Config{Name: name, VRID: vrid, Version: vrrp.V3, Priority: prio, Interval: time.Second, VIPs: vips}}}
}

func stopAll(t *testing.T, cancel context.CancelFunc, ms ...*memSup) {
	t.Helper()
	cancel()
	for _, m := range ms {
		if err := <-m.done; err != nil {
			t.Error(err)
		}
	}
}

// TestSupervisorTrackedCheckFailover: A (priority 110) tracks a check of
// weight -20; B has 100. The check fails: A's priority drops to 90 at the
// round that decides it, A advertises 90 at once, B discards it
// (preemption) and takes over one Master_Down_Interval after the last
// advert it accepted, exactly.
func TestSupervisorTrackedCheckFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		var chk flag
		ca := vigil.Config{Trackers: []vigil.Tracker{checkTracker("chk", &chk, -20)},
			Instances: []vigil.Instance{supInst("VI_1", 51, 110, vipX)}}
		ca.Instances[0].Track = []vigil.Track{{Tracker: "chk"}}
		a := startSup(t, hub, 1, ca)
		b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}})
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(10500 * time.Millisecond)
		chk.down.Store(true) // the round at 11 s fails (fall 1)
		time.Sleep(5 * time.Second)
		// A: master at 3 s + (256-110)/256 s = 3.5703125 s, adverts
		// every second after; the last one B accepts leaves at
		// 10.5703125 s; B's Master_Down_Interval is 3 s + 156/256 s.
		wantA := []string{"0s VI_1 INIT->BACKUP 110", "3.5703125s VI_1 BACKUP->MASTER 110",
			"11s VI_1 priority 90", "14.1796875s VI_1 MASTER->BACKUP 90"}
		wantB := []string{"0s VI_1 INIT->BACKUP 100", "14.1796875s VI_1 BACKUP->MASTER 100"}
		if got := a.events(vigil.EventInstance, vigil.EventPriority); !equalLists(got, wantA) {
			t.Errorf("A: %q\nwant %q", got, wantA)
		}
		if got := b.events(vigil.EventInstance, vigil.EventPriority); !equalLists(got, wantB) {
			t.Errorf("B: %q\nwant %q", got, wantB)
		}
		st := a.s.State()
		if len(st.Instances) != 1 || st.Instances[0].Effective != 90 || st.Instances[0].State != "BACKUP" ||
			len(st.Instances[0].Tracks) != 2 || st.Instances[0].Tracks[0].Delta != -20 {
			t.Errorf("A's state %+v", st.Instances)
		}
		stopAll(t, cancel, a, b)
		if err := a.s.Run(t.Context()); !errors.Is(err, vigil.ErrRan) {
			t.Errorf("second Run: %v, want ErrRan", err)
		}
	})
}

// TestSupervisorFaultTracker: a tracker of weight 0 fails: the master
// enters FAULT at the round that decides it (fall 2: the second failed
// round) and the backup takes over; it recovers (rise 1): BACKUP, then it
// preempts.
func TestSupervisorFaultTracker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		var chk flag
		tr := checkTracker("chk", &chk, 0)
		tr.Check.Policy.Fall = 2
		ca := vigil.Config{Trackers: []vigil.Tracker{tr}, Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}}
		ca.Instances[0].Track = []vigil.Track{{Tracker: "chk"}}
		a := startSup(t, hub, 1, ca)
		b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}})
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(10500 * time.Millisecond)
		chk.down.Store(true) // rounds at 11 s and 12 s fail
		time.Sleep(5 * time.Second)
		chk.down.Store(false) // the round at 16 s passes
		time.Sleep(5 * time.Second)
		wantA := []string{"0s VI_1 INIT->BACKUP 200", "3.21875s VI_1 BACKUP->MASTER 200",
			"12s VI_1 MASTER->FAULT 200", "16s VI_1 FAULT->BACKUP 200", "19.21875s VI_1 BACKUP->MASTER 200"}
		// B: takes over Skew_Time after A's priority 0 at 12 s.
		wantB := []string{"0s VI_1 INIT->BACKUP 100", "12.609375s VI_1 BACKUP->MASTER 100",
			"19.21875s VI_1 MASTER->BACKUP 100"}
		if got := a.events(vigil.EventInstance); !equalLists(got, wantA) {
			t.Errorf("A: %q\nwant %q", got, wantA)
		}
		if got := b.events(vigil.EventInstance); !equalLists(got, wantB) {
			t.Errorf("B: %q\nwant %q", got, wantB)
		}
		stopAll(t, cancel, a, b)
	})
}

var _ = strings.Join

var vipY6 = netip.MustParsePrefix("2001:db8::100/64")

// TestSupervisorSyncGroup: A's group G holds an IPv4 and an IPv6
// instance; the IPv4 one's fault tracker fails: the group enters FAULT,
// both send priority 0, and B's group takes both over together, one
// Skew_Time later; the tracker recovers and A takes both back.
func TestSupervisorSyncGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		var chk flag
		group := func(prio uint8) vigil.Config {
			v6 := supInst("VI_6", 52, prio, vipY6)
			return vigil.Config{
				Instances:  []vigil.Instance{supInst("VI_4", 51, prio, vipX), v6},
				SyncGroups: []vigil.SyncGroup{{Name: "G", Members: []string{"VI_4", "VI_6"}}},
			}
		}
		ca := group(200)
		ca.Trackers = []vigil.Tracker{checkTracker("chk", &chk, 0)}
		ca.Instances[0].Track = []vigil.Track{{Tracker: "chk"}}
		a := startSup(t, hub, 1, ca)
		b := startSup(t, hub, 2, group(100))
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(10500 * time.Millisecond)
		chk.down.Store(true) // the round at 11 s fails
		time.Sleep(2 * time.Second)
		chk.down.Store(false) // the round at 13 s passes
		time.Sleep(5 * time.Second)
		kinds := []vigil.EventKind{vigil.EventInstance, vigil.EventGroup}
		wantA := []string{
			"0s group G INIT->BACKUP", "0s VI_4 INIT->BACKUP 200", "0s VI_6 INIT->BACKUP 200",
			"3.21875s group G BACKUP->MASTER", "3.21875s VI_4 BACKUP->MASTER 200", "3.21875s VI_6 BACKUP->MASTER 200",
			"11s VI_4 MASTER->FAULT 200", "11s group G MASTER->FAULT", "11s VI_6 MASTER->FAULT 200",
			"13s VI_4 FAULT->BACKUP 200", "13s group G FAULT->BACKUP", "13s VI_6 FAULT->BACKUP 200",
			"16.21875s group G BACKUP->MASTER", "16.21875s VI_4 BACKUP->MASTER 200", "16.21875s VI_6 BACKUP->MASTER 200",
		}
		wantB := []string{
			"0s group G INIT->BACKUP", "0s VI_4 INIT->BACKUP 100", "0s VI_6 INIT->BACKUP 100",
			"11.609375s group G BACKUP->MASTER", "11.609375s VI_4 BACKUP->MASTER 100", "11.609375s VI_6 BACKUP->MASTER 100",
			"16.21875s VI_4 MASTER->BACKUP 100", "16.21875s group G MASTER->BACKUP", "16.21875s VI_6 MASTER->BACKUP 100",
		}
		gotA, gotB := a.events(kinds...), b.events(kinds...)
		if !sameEvents(gotA, wantA) {
			t.Errorf("A:\n%s\nwant\n%s", strings.Join(gotA, "\n"), strings.Join(wantA, "\n"))
		}
		if !sameEvents(gotB, wantB) {
			t.Errorf("B:\n%s\nwant\n%s", strings.Join(gotB, "\n"), strings.Join(wantB, "\n"))
		}
		st := a.s.State()
		if len(st.SyncGroups) != 1 || st.SyncGroups[0].State != "MASTER" {
			t.Errorf("A's groups %+v", st.SyncGroups)
		}
		stopAll(t, cancel, a, b)
	})
}

// sameEvents compares event lists as sets of lines at each instant: the
// order of events of one instant across routers is not defined.
func sameEvents(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		if count[w]--; count[w] < 0 {
			return false
		}
	}
	// Times must be in order.
	return true
}

func newHub() *vrrptest.Hub { return vrrptest.NewHub(1) }

func newMemPlatform(t *testing.T, hub *vrrptest.Hub, i byte) *vigiltest.Platform {
	t.Helper()
	p, err := vigiltest.New(vigiltest.Config{Hub: hub, Addr4: netip.AddrFrom4([4]byte{192, 0, 2, i})})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A Supervisor runs a small, fixed number of goroutines per VRRP
// instance: the router's loop, which is also its watchdog guard's
// (watchdog.Go: Guard's caller made one more), and whose transitions,
// lower priority adverts and sync statuses go to the loop's inbox from
// the router's goroutine (a forwarder for them made one more, a
// forwarder each three more), plus here the in-memory Conn's reader
// (vrrptest; a SocketConn has none), whatever the number of instances.
// Counted as the difference between 5 and 25 instances in sync groups
// (which add the sync subscription), all settled as master.
func TestSupervisorGoroutinesPerInstance(t *testing.T) {
	small, large := settledSupervisor(t, 5), settledSupervisor(t, 25)
	per := float64(large.goroutines-small.goroutines) / 20
	t.Logf("goroutines: %d with 5 instances, %d with 25: %.2f per instance", small.goroutines, large.goroutines, per)
	if per > 2 {
		t.Errorf("%.2f goroutines per instance, want at most 2 (the guarded loop, the test Conn's reader)", per)
	}
}

// A Supervisor's waiting router keeps a small stack once collections
// have shrunk what its start grew: 4 KiB, where the guard's goroutine and
// larger frames kept 8 KiB and a guard's stack besides (vrrp's
// TestRouterIdleStack; bench/README.md, "Memory a start leaves
// behind"). Counted with the in-memory Conn's reader (4 KiB). .ci/run
// runs it without -race too.
func TestSupervisorIdleStack(t *testing.T) {
	if raceDetector {
		t.Skip("-race: its instrumented frames are larger than the build's (.ci/run runs this test without it)")
	}
	small, large := settledSupervisor(t, 10), settledSupervisor(t, 210)
	per := float64(large.stacks-small.stacks) / 200
	t.Logf("stacks in use: %d KiB with 10 instances, %d KiB with 210: %.1f KiB per instance", small.stacks>>10, large.stacks>>10, per/1024)
	if per > 10<<10 {
		t.Errorf("%.1f KiB of stack per instance, want at most 10 (4 the router's, 4 the test Conn's reader's)", per/1024)
	}
}

// settled is what a Supervisor of n instances holds once they are master.
type settled struct {
	goroutines int
	stacks     int64 // runtime.MemStats.StackInuse, after collections
}

// settledSupervisor runs n instances in a sync group (which adds the sync
// subscription) until all are master, and measures them.
func settledSupervisor(t *testing.T, n int) settled {
	var st settled
	synctest.Test(t, func(t *testing.T) {
		cfg := vigil.Config{}
		var members []string
		for i := range n {
			name := fmt.Sprint("VI_", i+1)
			vip := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)}), 24)
			cfg.Instances = append(cfg.Instances, supInst(name, uint8(i+1), 255, vip))
			members = append(members, name)
		}
		cfg.SyncGroups = []vigil.SyncGroup{{Name: "G", Members: members}}
		m := startSup(t, vrrptest.NewHub(1), 1, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		m.run(ctx)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		st.goroutines = goroutines.InBubble()
		for range 4 { // each collection halves a stack at most
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st.stacks = int64(ms.StackInuse)
		stopAll(t, cancel, m)
	})
	return st
}
