package vigil_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// On a platform that reopens Conns (InstanceIO.Reopen, as Linux's), a
// master's router stalls in a send that ignores its context, as in
// TestSupervisorWatchdogStallRestart; but here the routers use their
// Conns unwrapped and the fence closes the Conn: the stuck send returns
// at once (net.ErrClosed), the cut-off router stops without reaching the
// network, the VIP or the Supervisor's events, and its successor, on a
// Conn of its own, resumes as MASTER when the backoff ends: an advert
// at once, the VIP never removed, the backup never moves.
func TestSupervisorReopenStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := startPairOn(t, true)
		time.Sleep(10500 * time.Millisecond)
		old := w.a.p.Conn("VI_1")
		old.BlockNextWrite() // the advert due at 11.21875s
		time.Sleep(1750 * time.Millisecond)
		synctest.Wait()
		sent := old.Sent()
		time.Sleep(8 * time.Second)
		synctest.Wait()

		// Last beat at 11s: stalled at the check at 12.25s (the Conn
		// closed, the router stops at once), restarted 250ms later.
		if got, want := w.a.events(vigil.EventInstance), []string{"0s VI_1 INIT->BACKUP 200",
			"3.21875s VI_1 BACKUP->MASTER 200", "12.5s VI_1 INIT->MASTER 200"}; !equalLists(got, want) {
			t.Errorf("A: %q\nwant %q", got, want)
		}
		if got := w.b.events(vigil.EventInstance); !equalLists(got, []string{"0s VI_1 INIT->BACKUP 100"}) {
			t.Errorf("B took over: %q", got)
		}
		if got, want := w.heard.between(10*time.Second, 14*time.Second),
			[]string{"192.0.2.1 10.21875s 200", "192.0.2.1 12.5s 200", "192.0.2.1 13.5s 200"}; !equalLists(got, want) {
			t.Errorf("A's adverts from 10s to 14s: %q, want %q", got, want)
		}
		if got, want := w.addrOps(), []string{"-0s", "+3.21875s", "+12.5s"}; !equalLists(got, want) {
			t.Errorf("A's address operations %q, want %q: the VIP never removed", got, want)
		}
		cur := w.a.p.Conn("VI_1")
		if cur == old || old.Sent() != sent || old.Stuck() != 0 {
			t.Errorf("the stalled router's Conn: replaced %v, sends after the stall %d, stuck %d",
				cur != old, old.Sent()-sent, old.Stuck())
		}
		if err := old.WriteAdvert(t.Context(), []byte{0}, netip.MustParseAddr("224.0.0.18")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("the stalled router's Conn is open: %v", err)
		}
		if cur.Sent() < 8 {
			t.Errorf("the new router sent %d adverts on its Conn", cur.Sent())
		}
		st := w.a.s.Stats().Watchdog
		if st.StallsByLoop["vrrp"] != 1 || st.RestartsByLoop["vrrp"] != 1 || st.Abandoned != 0 || st.Stuck != 0 {
			t.Errorf("A's watchdog stats %+v", st)
		}
		if !w.a.s.Healthy() {
			t.Error("A not healthy with its new router beating")
		}
		stopAll(t, w.cancel, w.a, w.b)
	})
}

// A router restarted on a reopened Conn gets the instance's peers as a
// reload left them, and a reload that removes the instance closes the
// newest Conn.
func TestSupervisorReopenPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		peerX, peerY := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("192.0.2.8")
		inst := func(peer netip.Addr) vigil.Config {
			in := supInst("VI_1", 51, 255, vipX)
			in.VRRP.Peers = []netip.Addr{peer}
			return vigil.Config{Instances: []vigil.Instance{in}, Watchdog: tightWatchdog}
		}
		pc := memHostCfg(hub, 1)
		pc.Reopen = true
		a := startSupOn(t, pc, inst(peerX))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a.run(ctx)
		time.Sleep(2500 * time.Millisecond)
		if _, err := a.s.Reload(ctx, inst(peerY)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the router applies it
		first := a.p.Conn("VI_1")
		if got := first.Peers(); !slices.Equal(got, []netip.Addr{peerY}) {
			t.Fatalf("after the reload: peers %v", got)
		}
		first.PanicWrites(1, "boom")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		cur := a.p.Conn("VI_1")
		if cur == first || cur == nil {
			t.Fatal("the restarted router's Conn was not reopened")
		}
		if got := cur.Peers(); !slices.Equal(got, []netip.Addr{peerY}) {
			t.Errorf("the reopened Conn's peers %v, want [%v]", got, peerY)
		}
		if st := a.s.Stats().Watchdog; st.Panics != 1 || st.RestartsByLoop["vrrp"] != 1 {
			t.Errorf("watchdog stats %+v", st)
		}
		if got := a.events(vigil.EventInstance); len(got) == 0 || !strings.HasSuffix(got[len(got)-1], "INIT->MASTER 255") {
			t.Errorf("the restart: %q, want it to end INIT->MASTER", got)
		}
		if _, err := a.s.Reload(ctx, vigil.Config{Watchdog: tightWatchdog}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if a.p.Conn("VI_1") != nil {
			t.Error("the removed instance's Conn is still the platform's")
		}
		if err := cur.WriteAdvert(t.Context(), []byte{0}, peerY); !errors.Is(err, net.ErrClosed) {
			t.Errorf("the removed instance's newest Conn is open: %v", err)
		}
		cancel()
		if err := <-a.done; err != nil {
			t.Error(err)
		}
	})
}
