package nstest

import (
	"net"
	"net/netip"
	"testing"
)

// A capture stopped right after a burst keeps the whole burst: the stop
// waits for tcpdump to take what its filter passed (settle).
func TestCaptureKeepsTail(t *testing.T) {
	s := NewSegment(t, 2)
	a, b := s.Hosts[0], s.Hosts[1]
	if out, err := a.Ping(t, b.Addr4.Addr()); err != nil { // the neighbour entry, before the burst
		t.Fatalf("ping: %v\n%s", err, out)
	}
	const n = 1000
	for round := range 3 {
		stop := Capture(t, b, "udp dst port 9")
		err := a.Do(func() error {
			// Unconnected: B's port unreachable errors do not come back.
			c, err := net.ListenUDP("udp4", nil)
			if err != nil {
				return err
			}
			defer c.Close()
			to := netip.AddrPortFrom(b.Addr4.Addr(), 9)
			for range n {
				if _, err := c.WriteToUDPAddrPort([]byte("vigil nstest burst"), to); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(stop()); got != n {
			t.Errorf("round %d: %d frames captured of the %d sent just before the stop", round, got, n)
		}
	}
}
