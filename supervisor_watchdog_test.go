package vigil_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
	"github.com/vigil-ha/vigil/watchdog"
)

// A tight watchdog: a loop silent for 1s is stalled (checks every 250ms);
// a failed router is restarted 250ms later, a stuck one abandoned after
// 500ms.
var tightWatchdog = vigil.Watchdog{Deadline: time.Second, Systemd: -1,
	Restart: watchdog.Policy{Backoff: 250 * time.Millisecond, Abandon: 500 * time.Millisecond}}

// wdPair is master A (priority 200) and backup B (100) of VI_1 holding
// vipX, with tightWatchdog, a sniffer on the segment and A's log.
type wdPair struct {
	a, b   *memSup
	log    *nstest.Buffer
	heard  *adverts
	cancel context.CancelFunc
}

func startPair(t *testing.T) *wdPair { return startPairOn(t, false) }

// startPairOn is startPair with A's and B's platforms reopening
// Conns (vigiltest.Config.Reopen) or not.
func startPairOn(t *testing.T, reopen bool) *wdPair {
	hub := vrrptest.NewHub(1)
	log := &nstest.Buffer{}
	ca := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}, Watchdog: tightWatchdog,
		Logger: slog.New(slog.NewTextHandler(log, nil))}
	cb := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}, Watchdog: tightWatchdog}
	pa, pb := memHostCfg(hub, 1), memHostCfg(hub, 2)
	pa.Reopen, pb.Reopen = reopen, reopen
	w := &wdPair{a: startSupOn(t, pa, ca), b: startSupOn(t, pb, cb), log: log}
	ctx, cancel := context.WithCancel(t.Context())
	w.cancel = cancel
	w.heard = sniff(t, ctx, hub)
	w.a.run(ctx)
	w.b.run(ctx)
	return w
}

// addrOps returns the address operations on A's eth0, as "+" or "-" and
// the virtual time.
func (w *wdPair) addrOps() []string {
	var out []string
	for _, op := range w.a.p.Addrs("eth0").Ops() {
		sign := "-"
		if op.Add {
			sign = "+"
		}
		out = append(out, fmt.Sprintf("%s%v", sign, op.Time.Sub(w.a.t0)))
	}
	return out
}

// adverts records the adverts a listener on the segment heard, as
// "source time priority".
type adverts struct {
	mu  sync.Mutex
	t0  time.Time
	all []heardAdvert
}

type heardAdvert struct {
	src  netip.Addr
	at   time.Duration
	prio uint8
}

func sniff(t *testing.T, ctx context.Context, hub *vrrptest.Hub) *adverts {
	c, err := hub.Join(netip.MustParseAddr("192.0.2.99"))
	if err != nil {
		t.Fatal(err)
	}
	a := &adverts{t0: time.Now()}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		b := make([]byte, 1500)
		for {
			n, info, err := c.ReadAdvert(ctx, b)
			if err != nil {
				return
			}
			adv, err := vrrp.Parse(b[:n], info.Src, info.Dst)
			if err != nil {
				continue
			}
			a.mu.Lock()
			a.all = append(a.all, heardAdvert{info.Src, time.Since(a.t0), adv.Priority})
			a.mu.Unlock()
		}
	}()
	return a
}

// between returns the adverts heard in [from, to).
func (a *adverts) between(from, to time.Duration) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, h := range a.all {
		if h.at >= from && h.at < to {
			out = append(out, fmt.Sprintf("%v %v %d", h.src, h.at, h.prio))
		}
	}
	return out
}

// A master's router stalls in a send that ignores its context (a stuck
// syscall): the watchdog finds it 1s after its last beat, the
// Supervisor fences it off and abandons it 500ms later, and 250ms after
// that a new router resumes as master: an advert at once, the VIP never
// removed, and the backup never takes over. The abandoned goroutine is
// counted until its send returns; then it ends without touching the
// network or the VIP.
func TestSupervisorWatchdogStallRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := startPair(t)
		time.Sleep(10500 * time.Millisecond)
		conn := w.a.p.Conn("VI_1")
		conn.BlockNextWrite() // the advert due at 11.21875s
		time.Sleep(10 * time.Second)
		synctest.Wait()

		// Last beat at 11s (a tick; the send came before the next):
		// stalled at the check at 12.25s,
		// abandoned at 12.75s, restarted at 13s.
		if got, want := w.a.events(vigil.EventInstance), []string{"0s VI_1 INIT->BACKUP 200",
			"3.21875s VI_1 BACKUP->MASTER 200", "13s VI_1 INIT->MASTER 200"}; !equalLists(got, want) {
			t.Errorf("A: %q\nwant %q", got, want)
		}
		if got := w.b.events(vigil.EventInstance); !equalLists(got, []string{"0s VI_1 INIT->BACKUP 100"}) {
			t.Errorf("B took over: %q", got)
		}
		if got, want := w.heard.between(10*time.Second, 14*time.Second),
			[]string{"192.0.2.1 10.21875s 200", "192.0.2.1 13s 200"}; !equalLists(got, want) {
			t.Errorf("A's adverts from 10s to 14s: %q, want %q: the blocked one missing, one at once after the restart", got, want)
		}
		if got, want := w.addrOps(), []string{"-0s", "+3.21875s", "+13s"}; !equalLists(got, want) {
			t.Errorf("A's address operations %q, want %q: the VIP never removed", got, want)
		}
		if !w.a.p.Addrs("eth0").Has(vipX) {
			t.Error("the VIP is gone")
		}
		// The stuck router's announcement ended when it was cut off,
		// though its goroutine has not returned; its successor's goes on.
		var anns []string
		for _, a := range w.a.p.Announcer("eth0").All() {
			anns = append(anns, fmt.Sprintf("%v %v", a.Time.Sub(w.a.t0), a.Active()))
		}
		if want := []string{"3.21875s false", "13s true"}; !equalLists(anns, want) {
			t.Errorf("A's announcements (time, still active): %q, want %q", anns, want)
		}
		st := w.a.s.Stats().Watchdog
		if st.StallsByLoop["vrrp"] != 1 || st.RestartsByLoop["vrrp"] != 1 || st.Abandoned != 1 || st.Stuck != 1 ||
			st.Failures != 1 || st.StallsByLoop["supervisor"] != 0 {
			t.Errorf("A's watchdog stats %+v", st)
		}
		if !w.a.s.Healthy() {
			t.Error("A not healthy with its new router beating")
		}
		if log := w.log.String(); !strings.Contains(log, `msg="watchdog: loop stalled" router_id=`) ||
			!strings.Contains(log, `loop="vrrp VI_1" stalled=1.25s`) || !strings.Contains(log, "goroutine ") {
			t.Errorf("the stall is not logged with the loop, how long, and the stacks:\n%.3000s", log)
		}
		if st := w.b.s.Stats().Watchdog; st.Stalls != 0 || st.Failures != 0 || st.Restarts != 0 || !w.b.s.Healthy() {
			t.Errorf("the healthy B: %+v", st)
		}

		// The stuck send returns: the abandoned router wakes fenced off.
		conn.UnblockWrites()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := w.a.s.Stats().Watchdog; st.Stuck != 0 {
			t.Errorf("still %d stuck", st.Stuck)
		}
		if got := w.addrOps(); len(got) != 3 {
			t.Errorf("the abandoned router touched the VIP: %q", got)
		}
		if got := w.b.events(vigil.EventInstance); len(got) != 0 {
			t.Errorf("B moved: %q", got)
		}
		stopAll(t, w.cancel, w.a, w.b)
	})
}

// A panic in a master's router loop is recovered and logged with its
// stack, and the router restarted as master after the backoff, the VIP
// kept.
func TestSupervisorWatchdogPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := startPair(t)
		time.Sleep(10500 * time.Millisecond)
		w.a.p.Conn("VI_1").PanicWrites(1, "boom") // the advert due at 11.21875s
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got, want := w.a.events(vigil.EventInstance), []string{"0s VI_1 INIT->BACKUP 200",
			"3.21875s VI_1 BACKUP->MASTER 200", "11.46875s VI_1 INIT->MASTER 200"}; !equalLists(got, want) {
			t.Errorf("A: %q\nwant %q", got, want)
		}
		if got, want := w.addrOps(), []string{"-0s", "+3.21875s", "+11.46875s"}; !equalLists(got, want) {
			t.Errorf("A's address operations %q, want %q", got, want)
		}
		if got := w.b.events(vigil.EventInstance); !equalLists(got, []string{"0s VI_1 INIT->BACKUP 100"}) {
			t.Errorf("B took over: %q", got)
		}
		st := w.a.s.Stats().Watchdog
		if st.Panics != 1 || st.RestartsByLoop["vrrp"] != 1 || st.Stalls != 0 || st.Abandoned != 0 {
			t.Errorf("A's watchdog stats %+v", st)
		}
		if log := w.log.String(); !strings.Contains(log, `msg="watchdog: loop failed" router_id=`) ||
			!strings.Contains(log, `loop="vrrp VI_1" err="watchdog: panic: boom"`) || !strings.Contains(log, "vrrptest.(*Conn).WriteAdvert") {
			t.Errorf("the panic is not logged with the loop and its stack:\n%s", log)
		}
		stopAll(t, w.cancel, w.a, w.b)
	})
}

// A router that keeps failing uses up its budget: the third failure
// within the window stops the Supervisor, whose Run returns an error
// wrapping ErrFailing; the VIP its master held is removed.
func TestSupervisorWatchdogGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		cfg := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 255, vipX)}, Watchdog: tightWatchdog}
		cfg.Watchdog.Restart.Failures = 3
		a := startSup(t, hub, 1, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a.run(ctx)
		time.Sleep(5500 * time.Millisecond)
		a.p.Conn("VI_1").PanicWrites(100, "boom") // the advert due at 6s, and every one after
		err := <-a.done
		if !errors.Is(err, vigil.ErrFailing) || !strings.Contains(err.Error(), `loop "vrrp VI_1": 3 failures within 1m0s`) {
			t.Fatalf("Run: %v, want ErrFailing after 3 failures", err)
		}
		// Failures at 6s, 6.25s (resumed), 6.75s (backoff 500ms).
		if at := time.Since(a.t0); at != 6750*time.Millisecond {
			t.Errorf("Run returned at %v, want 6.75s", at)
		}
		if a.p.Addrs("eth0").Has(vipX) {
			t.Error("the VIP stayed after the Supervisor gave up")
		}
		if st := a.s.Stats().Watchdog; st.Panics != 3 || st.Restarts != 2 || st.GaveUp != 1 {
			t.Errorf("watchdog stats %+v", st)
		}
	})
}

// A Supervisor that replaces a dead one which was master of VI_1
// (vigild's respawned VRRP child) resumes it: INIT->MASTER at once, an
// advert at 0s, the VIP never removed, and the backup never moves.
// Without ResumeMasters the same start removes the VIP and elects.
func TestSupervisorResumeMasters(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprint("resume=", resume), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hub := vrrptest.NewHub(1)
				a := startSup(t, hub, 1, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}, Watchdog: tightWatchdog})
				b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}, Watchdog: tightWatchdog})
				if err := a.s.ResumeMasters("VI_9"); err == nil || !strings.Contains(err.Error(), `no instance "VI_9"`) {
					t.Errorf("ResumeMasters of an unknown instance: %v", err)
				}
				if resume {
					if err := a.s.ResumeMasters("VI_1"); err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(t.Context())
				heard := sniff(t, ctx, hub)
				a.run(ctx)
				b.run(ctx)
				time.Sleep(5 * time.Second)
				synctest.Wait()
				if err := a.s.ResumeMasters("VI_1"); !errors.Is(err, vigil.ErrRan) {
					t.Errorf("ResumeMasters after Run: %v, want ErrRan", err)
				}
				var wantA, wantOps, wantHeard []string
				if resume {
					wantA = []string{"0s VI_1 INIT->MASTER 200"}
					wantOps = []string{"+0s"}
					wantHeard = []string{"192.0.2.1 0s 200"}
				} else {
					wantA = []string{"0s VI_1 INIT->BACKUP 200", "3.21875s VI_1 BACKUP->MASTER 200"}
					wantOps = []string{"-0s", "+3.21875s"}
				}
				if got := a.events(vigil.EventInstance); !equalLists(got, wantA) {
					t.Errorf("A: %q, want %q", got, wantA)
				}
				w := &wdPair{a: a}
				if got := w.addrOps(); !equalLists(got, wantOps) {
					t.Errorf("A's address operations %q, want %q", got, wantOps)
				}
				if got := heard.between(0, time.Second); !equalLists(got, wantHeard) {
					t.Errorf("adverts in the first second %q, want %q", got, wantHeard)
				}
				if got := b.events(vigil.EventInstance); !equalLists(got, []string{"0s VI_1 INIT->BACKUP 100"}) {
					t.Errorf("B: %q", got)
				}
				stopAll(t, cancel, a, b)
			})
		})
	}
}
