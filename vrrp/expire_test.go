package vrrp_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// starvedConn is a vrrptest.Conn whose Router's reader does not get to
// run (a process too busy to schedule it): ReadAdvert waits until wake is
// closed, while what arrives waits in the queue.
type starvedConn struct {
	*vrrptest.Conn
	wake chan struct{}
}

func (c starvedConn) ReadAdvert(ctx context.Context, b []byte) (int, vrrp.PacketInfo, error) {
	select {
	case <-c.wake:
	case <-ctx.Done():
		return 0, vrrp.PacketInfo{}, ctx.Err()
	}
	return c.Conn.ReadAdvert(ctx, b)
}

// A Master_Down_Timer expiry first steps the adverts that arrived before
// it and are still waiting to be read: one its master sent in time,
// received before the deadline (its kernel receive time) but not yet read
// by a starved reader, restarts the timer and the backup stays BACKUP
// (RFC 5798 6.4.2). One received after the deadline does not: the
// backup takes over at the deadline and steps the advert after it.
func TestExpiryTakesWaitingAdverts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		received time.Duration // the advert's receive time, from t0
		master   []time.Duration
		backup   []time.Duration // after the start: the advert's receive time
	}{
		// Master_Down_Interval = 3 x 1s + (256-100)/256 s = 3.609375s.
		{"before_deadline", 3 * time.Second, nil, nil},
		{"after_deadline", 3609375*time.Microsecond + time.Millisecond, []time.Duration{3609375 * time.Microsecond}, []time.Duration{3609375*time.Microsecond + time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSim(t)
				c := starvedConn{Conn: s.join("192.0.2.2"), wake: make(chan struct{})}
				n := &node{t: t, name: "B", addrs: vrrptest.NewAddrs(), ann: &vrrptest.Announcer{}, done: make(chan struct{})}
				r, err := vrrp.NewRouter(c, n.addrs, n.ann, baseConfig("B", 100))
				if err != nil {
					t.Fatal(err)
				}
				n.r = r
				runNode(t, n)
				defer n.stop()
				defer close(c.wake)
				s.sleepUntil(3 * time.Second)
				adv := vrrp.Advertisement{Version: vrrp.V2, VRID: 51, Priority: 200, Interval: time.Second,
					Addrs: []netip.Addr{vip.Addr()}}
				c.Inject(marshal(t, adv, peerAddr, vrrp.GroupV4),
					vrrp.PacketInfo{Src: peerAddr, Dst: vrrp.GroupV4, TTL: 255, Time: s.t0.Add(tc.received)})
				s.sleepUntil(4 * time.Second)
				if got := n.becameAt(s, vrrp.Master); !slices.Equal(got, tc.master) {
					t.Errorf("became MASTER at %v, want %v: %s", got, tc.master, n.history(s))
				}
				if got := n.becameAt(s, vrrp.Backup); len(got) == 0 || !slices.Equal(got[1:], tc.backup) { // [0]: the start
					t.Errorf("became BACKUP at %v, want the start and %v: %s", got, tc.backup, n.history(s))
				}
				if st := r.Stats(); st.AdvertsTakenAtExpiry != 1 || st.AdvertsReceived != 1 {
					t.Errorf("AdvertsTakenAtExpiry %d, AdvertsReceived %d, want 1 and 1", st.AdvertsTakenAtExpiry, st.AdvertsReceived)
				}
				if got, want := r.Status().Master, peerAddr; got != want {
					t.Errorf("master %v, want %v", got, want)
				}
			})
		})
	}
}
