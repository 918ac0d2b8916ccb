package vrrptest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

func join(t *testing.T, h *Hub, addr string) *Conn {
	t.Helper()
	c, err := h.Join(netip.MustParseAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pending returns what c has queued, without blocking.
func pending(c *Conn) []vrrp.PacketInfo {
	var out []vrrp.PacketInfo
	for {
		select {
		case m := <-c.q:
			out = append(out, m.info)
		default:
			return out
		}
	}
}

func TestHubDelivery(t *testing.T) {
	h := NewHub(1)
	a, b, c := join(t, h, "192.0.2.1"), join(t, h, "192.0.2.2"), join(t, h, "192.0.2.3")
	v6 := join(t, h, "fe80::1")
	if err := a.WriteAdvert(context.Background(), []byte("m"), vrrp.GroupV4); err != nil {
		t.Fatal(err)
	}
	if got := pending(a); len(got) != 0 {
		t.Errorf("sender got its own multicast: %v", got)
	}
	for _, x := range []*Conn{b, c} {
		got := pending(x)
		if len(got) != 1 || got[0].Src != a.addr || got[0].Dst != vrrp.GroupV4 || got[0].TTL != 255 {
			t.Errorf("%v got %+v", x.addr, got)
		}
	}
	if got := pending(v6); len(got) != 0 {
		t.Errorf("IPv6 host got an IPv4 multicast: %v", got)
	}
	if err := a.WriteAdvert(context.Background(), []byte("u"), c.addr); err != nil {
		t.Fatal(err)
	}
	if len(pending(b)) != 0 || len(pending(c)) != 1 {
		t.Error("unicast went to the wrong host")
	}
	buf := make([]byte, 8)
	c.Inject([]byte("hello"), vrrp.PacketInfo{Src: a.addr, TTL: 1})
	n, info, err := c.ReadAdvert(context.Background(), buf)
	if err != nil || string(buf[:n]) != "hello" || info.TTL != 1 {
		t.Errorf("ReadAdvert = %q %+v %v", buf[:n], info, err)
	}
	if _, err := h.Join(vrrp.GroupV4); err == nil {
		t.Error("joined with a multicast address")
	}
}

func TestHubDelayCutHealClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(1)
		a, b := join(t, h, "192.0.2.1"), join(t, h, "192.0.2.2")
		a.SetDelay(3 * time.Millisecond)
		b.SetDelay(2 * time.Millisecond)
		start := time.Now()
		a.WriteAdvert(context.Background(), []byte("x"), vrrp.GroupV4)
		buf := make([]byte, 8)
		if _, _, err := b.ReadAdvert(context.Background(), buf); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 5*time.Millisecond {
			t.Errorf("delivered after %v, want 5ms", d)
		}
		// In flight when cut: lost.
		a.WriteAdvert(context.Background(), []byte("y"), vrrp.GroupV4)
		b.Cut()
		time.Sleep(10 * time.Millisecond)
		b.Heal()
		if got := pending(b); len(got) != 0 {
			t.Errorf("cut host got %v", got)
		}
		b.Cut()
		b.WriteAdvert(context.Background(), []byte("z"), vrrp.GroupV4)
		time.Sleep(10 * time.Millisecond)
		if got := pending(a); len(got) != 0 {
			t.Errorf("message left a cut host: %v", got)
		}
		b.Heal()
		// Reads honour ctx and Close.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, _, err := a.ReadAdvert(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ReadAdvert after deadline: %v", err)
		}
		a.Close()
		if _, _, err := a.ReadAdvert(context.Background(), buf); !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadAdvert after Close: %v", err)
		}
		if err := a.WriteAdvert(context.Background(), []byte("w"), vrrp.GroupV4); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteAdvert after Close: %v", err)
		}
		if a.Sent() != 2 || b.Sent() != 1 {
			t.Errorf("sent a=%d b=%d", a.Sent(), b.Sent())
		}
	})
}

func TestHubLoss(t *testing.T) {
	h := NewHub(7)
	a, b := join(t, h, "192.0.2.1"), join(t, h, "192.0.2.2")
	a.SetLoss(0.5)
	got := 0
	for range 100 {
		a.WriteAdvert(context.Background(), []byte("x"), vrrp.GroupV4)
		got += len(pending(b))
	}
	if got < 30 || got > 70 || uint64(100-got) != b.Dropped() {
		t.Errorf("delivered %d of 100 at 50%% loss, dropped %d", got, b.Dropped())
	}
}

func TestFakes(t *testing.T) {
	a := NewAddrs()
	p := netip.MustParsePrefix("192.0.2.100/24")
	a.AddVIPs(context.Background(), []netip.Prefix{p}, false)
	a.AddVIPs(context.Background(), []netip.Prefix{p}, false)
	if !a.Has(p) || a.Len() != 1 || len(a.Ops()) != 2 || a.Ops()[0].Accept {
		t.Errorf("after add: has %v len %d ops %+v", a.Has(p), a.Len(), a.Ops())
	}
	a.SetErr(errors.New("boom"))
	if err := a.RemoveVIPs(context.Background(), []netip.Prefix{p}); err == nil || !a.Has(p) {
		t.Error("failing remove changed state")
	}
	a.SetErr(nil)
	a.RemoveVIPs(context.Background(), []netip.Prefix{p})
	if a.Has(p) {
		t.Error("remove did not remove")
	}
	var n Announcer
	ctx, cancel := context.WithCancel(context.Background())
	n.Announce(ctx, []netip.Addr{p.Addr()})
	if all := n.All(); len(all) != 1 || !all[0].Active() {
		t.Errorf("announcements %+v", all)
	}
	cancel()
	if n.All()[0].Active() {
		t.Error("announcement active after its ctx ended")
	}
}
