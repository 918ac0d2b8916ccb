package vrrp_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// A router taking over gives way to the goroutines that are ready once
// its news are out, before the rest of the takeover: when it does, its
// advert has been sent and its addresses announced, and not yet added.
// In a mass failover the other routers the clock has readied send their
// news before this one adds its VIPs (bench/README.md, "News first").
func TestTakeoverGivesWayAfterNews(t *testing.T) {
	defer goleak.VerifyNone(t)
	type seen struct {
		sent      uint64
		announced int
		added     int
	}
	var (
		mu  sync.Mutex
		got []seen
	)
	hub := vrrptest.NewHub(1)
	conn, err := hub.Join(netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	addrs, ann := vrrptest.NewAddrs(), &vrrptest.Announcer{}
	defer func(f func()) { *vrrp.GiveWay = f }(*vrrp.GiveWay)
	*vrrp.GiveWay = func() {
		mu.Lock()
		got = append(got, seen{conn.Sent(), len(ann.All()), len(addrs.Ops())})
		mu.Unlock()
	}
	r, err := vrrp.NewRouter(conn, addrs, ann, vrrp.Config{Name: "vr1", VRID: 1, Version: vrrp.V3, Priority: 255,
		Interval: time.Second, VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscribe(4)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	// The owner is master at once; the transition's event comes after
	// the add.
	for e := range sub.C() {
		if e.To == vrrp.Master {
			break
		}
	}
	if addrs.Len() != 1 {
		t.Fatalf("master with %d VIPs added, want 1", addrs.Len())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != (seen{sent: 1, announced: 1, added: 0}) {
		t.Errorf("gave way at %+v, want once, with the advert sent and the VIP announced, not added", got)
	}
}
