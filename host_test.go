package vigil_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// memHost is a Host on an in-memory platform, recording its first
// router's transitions.
type memHost struct {
	p    *vigiltest.Platform
	h    *vigil.Host
	done chan error
	subs []*vrrp.Subscription
}

const memIval = 100 * time.Millisecond

func startMem(t *testing.T, hub *vrrptest.Hub, i byte, insts ...vigil.InstanceConfig) *memHost {
	t.Helper()
	p, err := vigiltest.New(vigiltest.Config{Hub: hub,
		Addr4: netip.AddrFrom4([4]byte{192, 0, 2, i}), Addr6: netip.AddrFrom16([16]byte{0xfe, 0x80, 15: i})})
	if err != nil {
		t.Fatal(err)
	}
	h, err := vigil.NewHostOn(p, vigil.HostConfig{Instances: insts})
	if err != nil {
		t.Fatal(err)
	}
	m := &memHost{p: p, h: h, done: make(chan error, 1)}
	for _, r := range h.Routers() {
		m.subs = append(m.subs, r.Subscribe(64))
	}
	return m
}

func (m *memHost) run(ctx context.Context) { go func() { m.done <- m.h.Run(ctx) }() }

// transitions returns router i's transitions so far, with their virtual
// times since t0.
func (m *memHost) transitions(i int, t0 time.Time) []string {
	var out []string
	for {
		select {
		case e, ok := <-m.subs[i].C():
			if !ok {
				return out
			}
			out = append(out, e.Time.Sub(t0).String()+" "+e.From.String()+"->"+e.To.String())
		default:
			return out
		}
	}
}

func inst(name string, vrid, prio uint8, vips ...netip.Prefix) vigil.InstanceConfig {
	return vigil.InstanceConfig{Interface: "eth0",
		VRRP: vrrp.Config{Name: name, VRID: vrid, Version: vrrp.V3, Priority: prio, Interval: memIval, VIPs: vips}}
}

var vipX = netip.MustParsePrefix("192.0.2.100/24")

func equalLists(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHostInterfaceDownUp: the master's interface goes down: it enters
// FAULT at once and the backup takes over Master_Down_Interval after the
// last advert it heard; the interface comes back: the master starts as
// BACKUP again and preempts after its own Master_Down_Interval. Exact
// virtual times, over the in-memory platform.
func TestHostInterfaceDownUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		a := startMem(t, hub, 1, inst("VI_1", 51, 200, vipX))
		b := startMem(t, hub, 2, inst("VI_1", 51, 100, vipX))
		t0 := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		// A: Master_Down = 300 ms + (256-200)/256 × 100 ms = 321.875 ms.
		// B: 300 ms + 156/256 × 100 ms = 360.9375 ms.
		time.Sleep(time.Second)
		if err := a.p.SetInterface("eth0", false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// A's last advert left at 921.875 ms; B takes over at
		// 921.875 + 360.9375 ms.
		time.Sleep(time.Second)
		if err := a.p.SetInterface("eth0", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		wantA := []string{"0s INIT->BACKUP", "321.875ms BACKUP->MASTER", "1s MASTER->FAULT",
			"2s FAULT->BACKUP", "2.321875s BACKUP->MASTER"}
		wantB := []string{"0s INIT->BACKUP", "1.2828125s BACKUP->MASTER", "2.321875s MASTER->BACKUP"}
		if got := a.transitions(0, t0); !equalLists(got, wantA) {
			t.Errorf("A: %q\nwant %q", got, wantA)
		}
		if got := b.transitions(0, t0); !equalLists(got, wantB) {
			t.Errorf("B: %q\nwant %q", got, wantB)
		}
		if !a.p.Addrs("eth0").Has(vipX) || b.p.Addrs("eth0").Has(vipX) {
			t.Errorf("VIP on A %v, on B %v: want A only", a.p.Addrs("eth0").Has(vipX), b.p.Addrs("eth0").Has(vipX))
		}
		cancel()
		for _, m := range []*memHost{a, b} {
			if err := <-m.done; err != nil {
				t.Error(err)
			}
		}
		if err := a.h.Run(t.Context()); !errors.Is(err, vigil.ErrRan) {
			t.Errorf("second Run: %v, want ErrRan", err)
		}
	})
}

// TestHostRestoresVIP: a VIP someone removes from the master is put back
// by its router and announced alone; on the backup nothing happens.
func TestHostRestoresVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		y := netip.MustParsePrefix("192.0.2.101/24")
		a := startMem(t, hub, 1, inst("VI_1", 51, 200, vipX, y))
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		time.Sleep(time.Second)
		anns := len(a.p.Announcer("eth0").All())
		if err := a.p.RemoveAddr("eth0", y); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !a.p.Addrs("eth0").Has(y) {
			t.Fatal("the removed VIP was not put back")
		}
		all := a.p.Announcer("eth0").All()
		if len(all) != anns+1 || len(all[anns].Addrs) != 1 || all[anns].Addrs[0] != y.Addr() {
			t.Errorf("announcements %+v, want one more for %v alone", all, y.Addr())
		}
		if n := a.h.Restored(); n != 1 {
			t.Errorf("Restored %d, want 1", n)
		}
		cancel()
		<-a.done
	})
}

// TestHostSharedVIP: two instances on one interface share VIP X, both
// master. B preempts VI_2: VI_2 goes BACKUP, but X stays for VI_1, and no
// removal of X is written after the first add.
func TestHostSharedVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		a := startMem(t, hub, 1, inst("VI_1", 51, 200, vipX), inst("VI_2", 52, 100, vipX))
		b := startMem(t, hub, 2, inst("VI_2", 52, 200))
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		time.Sleep(time.Second) // A is master of both
		if st := a.h.Routers()[1].State(); st != vrrp.Master {
			t.Fatalf("VI_2 %v before B starts, want MASTER", st)
		}
		b.run(ctx) // B preempts VI_2: A's VI_2 goes BACKUP and lets X go
		time.Sleep(2 * time.Second)
		if st := a.h.Routers()[0].State(); st != vrrp.Master {
			t.Fatalf("VI_1 %v, want MASTER", st)
		}
		if st := a.h.Routers()[1].State(); st != vrrp.Backup {
			t.Fatalf("VI_2 %v, want BACKUP", st)
		}
		addrs := a.p.Addrs("eth0")
		if !addrs.Has(vipX) {
			t.Fatal("X is gone from the interface while VI_1 is master")
		}
		added := false
		for _, op := range addrs.Ops() {
			for _, v := range op.VIPs {
				if v == vipX && op.Add {
					added = true
				}
				if v == vipX && !op.Add && added {
					t.Errorf("X removed at %v after VI_1 added it", op.Time)
				}
			}
		}
		cancel()
		<-a.done
		<-b.done
	})
}
