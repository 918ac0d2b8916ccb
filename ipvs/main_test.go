package ipvs_test

import (
	"net/netip"
	"testing"

	"go.uber.org/goleak"

	"github.com/vigil-ha/vigil/ipvs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// tcp returns the key of a TCP service on addr.
func tcp(addr string) ipvs.ServiceKey {
	ap := netip.MustParseAddrPort(addr)
	return ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: ap.Addr(), Port: ap.Port()}
}

// dkey returns a destination key.
func dkey(addr string) ipvs.DestinationKey {
	ap := netip.MustParseAddrPort(addr)
	return ipvs.DestinationKey{Addr: ap.Addr(), Port: ap.Port()}
}

// svc returns a wlc service.
func svc(addr string) ipvs.Service {
	return ipvs.Service{ServiceKey: tcp(addr), Scheduler: ipvs.WeightedLeastConnection}
}

// dest returns a masquerading destination of weight w.
func dest(addr string, w int) ipvs.Destination {
	return ipvs.Destination{DestinationKey: dkey(addr), Forward: ipvs.Masquerade, Weight: w}
}
