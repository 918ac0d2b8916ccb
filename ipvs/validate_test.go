package ipvs_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
)

func TestServiceValidate(t *testing.T) {
	ok := svc("192.0.2.10:80")
	fw := ipvs.Service{ServiceKey: ipvs.ServiceKey{FWMark: 7}, Scheduler: ipvs.RoundRobin}
	v6 := svc("[2001:db8::1]:443")
	tests := []struct {
		name  string
		mod   func(*ipvs.Service)
		base  ipvs.Service
		field string // "" when valid
	}{
		{"valid", func(*ipvs.Service) {}, ok, ""},
		{"valid fwmark", func(*ipvs.Service) {}, fw, ""},
		{"valid fwmark v6 mask", func(s *ipvs.Service) { s.Family6 = true; s.PersistenceMask = 64 }, fw, ""},
		{"valid v6 mask", func(s *ipvs.Service) { s.PersistenceMask = 128 }, v6, ""},
		{"port 0 persistent", func(s *ipvs.Service) { s.Port = 0; s.Persistence = 300 * time.Second }, ok, ""},
		{"udp one packet", func(s *ipvs.Service) { s.Protocol = ipvs.UDP; s.OnePacket = true }, ok, ""},
		{"fwmark one packet", func(s *ipvs.Service) { s.OnePacket = true }, fw, ""},
		{"sh flags", func(s *ipvs.Service) {
			s.Scheduler = ipvs.SourceHashing
			s.SchedFlags = ipvs.FlagFallback | ipvs.FlagPort
		}, ok, ""},
		{"mh flags", func(s *ipvs.Service) { s.Scheduler = ipvs.MaglevHashing; s.SchedFlags = ipvs.FlagPort }, ok, ""},
		{"max persistence", func(s *ipvs.Service) { s.Persistence = ipvs.MaxPersistence }, ok, ""},

		{"zero protocol", func(s *ipvs.Service) { s.Protocol = 0 }, ok, "Protocol"},
		{"bad protocol", func(s *ipvs.Service) { s.Protocol = 9 }, ok, "Protocol"},
		{"zero addr", func(s *ipvs.Service) { s.Addr = netip.Addr{} }, ok, "Addr"},
		{"zoned addr", func(s *ipvs.Service) { s.Addr = netip.MustParseAddr("fe80::1%eth0") }, ok, "Addr"},
		{"mapped addr", func(s *ipvs.Service) { s.Addr = netip.MustParseAddr("::ffff:192.0.2.1") }, ok, "Addr"},
		{"unspecified addr", func(s *ipvs.Service) { s.Addr = netip.IPv4Unspecified() }, ok, "Addr"},
		{"family6 on address", func(s *ipvs.Service) { s.Family6 = true }, ok, "Family6"},
		{"port 0", func(s *ipvs.Service) { s.Port = 0 }, ok, "Port"},
		{"fwmark with protocol", func(s *ipvs.Service) { s.Protocol = ipvs.TCP }, fw, "Protocol"},
		{"fwmark with addr", func(s *ipvs.Service) { s.Addr = netip.MustParseAddr("192.0.2.1") }, fw, "Addr"},
		{"fwmark with port", func(s *ipvs.Service) { s.Port = 80 }, fw, "Port"},
		{"zero scheduler", func(s *ipvs.Service) { s.Scheduler = 0 }, ok, "Scheduler"},
		{"bad scheduler", func(s *ipvs.Service) { s.Scheduler = 99 }, ok, "Scheduler"},
		{"flags with wlc", func(s *ipvs.Service) { s.SchedFlags = ipvs.FlagFallback }, ok, "SchedFlags"},
		{"unknown flags", func(s *ipvs.Service) { s.Scheduler = ipvs.SourceHashing; s.SchedFlags = 0x80 }, ok, "SchedFlags"},
		{"negative persistence", func(s *ipvs.Service) { s.Persistence = -time.Second }, ok, "Persistence"},
		{"fractional persistence", func(s *ipvs.Service) { s.Persistence = 1500 * time.Millisecond }, ok, "Persistence"},
		{"huge persistence", func(s *ipvs.Service) { s.Persistence = ipvs.MaxPersistence + time.Second }, ok, "Persistence"},
		{"v4 mask 33", func(s *ipvs.Service) { s.PersistenceMask = 33 }, ok, "PersistenceMask"},
		{"negative mask", func(s *ipvs.Service) { s.PersistenceMask = -1 }, ok, "PersistenceMask"},
		{"v6 mask 129", func(s *ipvs.Service) { s.PersistenceMask = 129 }, v6, "PersistenceMask"},
		{"fwmark v4 mask 64", func(s *ipvs.Service) { s.PersistenceMask = 64 }, fw, "PersistenceMask"},
		{"tcp one packet", func(s *ipvs.Service) { s.OnePacket = true }, ok, "OnePacket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.base
			tt.mod(&s)
			err := s.Validate()
			checkFieldErr(t, err, tt.field, s.ServiceKey.String())
		})
	}
}

func TestServiceValidateMessage(t *testing.T) {
	s := svc("192.0.2.10:80")
	s.Scheduler = 0
	want := "ipvs: service tcp 192.0.2.10:80: Scheduler: zero value, want one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh"
	if err := s.Validate(); err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestDestinationValidate(t *testing.T) {
	key4 := tcp("192.0.2.10:80")
	key6 := tcp("[2001:db8::1]:80")
	tun := ipvs.Destination{DestinationKey: dkey("10.0.0.1:80"), Forward: ipvs.Tunnel, Weight: 1}
	tests := []struct {
		name  string
		svc   ipvs.ServiceKey
		base  ipvs.Destination
		mod   func(*ipvs.Destination)
		field string
	}{
		{"valid", key4, dest("10.0.0.1:80", 1), func(*ipvs.Destination) {}, ""},
		{"weight 0", key4, dest("10.0.0.1:80", 0), func(*ipvs.Destination) {}, ""},
		{"max weight", key4, dest("10.0.0.1:80", 65535), func(*ipvs.Destination) {}, ""},
		{"thresholds", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.UpperThreshold, d.LowerThreshold = 100, 50 }, ""},
		{"upper only", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.UpperThreshold = 100 }, ""},
		{"route", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.Forward = ipvs.Route }, ""},
		{"tunnel ipip", key4, tun, func(*ipvs.Destination) {}, ""},
		{"tunnel gue", key4, tun, func(d *ipvs.Destination) { d.TunnelType, d.TunnelPort, d.TunnelChecksum = ipvs.GUE, 6080, true }, ""},
		{"tunnel gre csum", key4, tun, func(d *ipvs.Destination) { d.TunnelType, d.TunnelChecksum = ipvs.GRE, true }, ""},
		{"v4 in v6 tunnel", key6, tun, func(*ipvs.Destination) {}, ""},

		{"zero addr", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.Addr = netip.Addr{} }, "Addr"},
		{"v6 dest of v4 masq", key4, dest("[2001:db8::2]:80", 1), func(*ipvs.Destination) {}, "Addr"},
		{"v4 dest of v6 route", key6, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.Forward = ipvs.Route }, "Addr"},
		{"zero forward", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.Forward = 0 }, "Forward"},
		{"bad forward", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.Forward = 7 }, "Forward"},
		{"negative weight", key4, dest("10.0.0.1:80", -1), func(*ipvs.Destination) {}, "Weight"},
		{"big weight", key4, dest("10.0.0.1:80", 65536), func(*ipvs.Destination) {}, "Weight"},
		{"lower above upper", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.UpperThreshold, d.LowerThreshold = 10, 20 }, "LowerThreshold"},
		{"lower without upper", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.LowerThreshold = 5 }, "LowerThreshold"},
		{"tunnel type on masq", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.TunnelType = ipvs.GRE }, "TunnelType"},
		{"tunnel port on masq", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.TunnelPort = 6080 }, "TunnelPort"},
		{"tunnel csum on route", key4, dest("10.0.0.1:80", 1), func(d *ipvs.Destination) { d.Forward = ipvs.Route; d.TunnelChecksum = true }, "TunnelChecksum"},
		{"bad tunnel type", key4, tun, func(d *ipvs.Destination) { d.TunnelType = 9 }, "TunnelType"},
		{"gue without port", key4, tun, func(d *ipvs.Destination) { d.TunnelType = ipvs.GUE }, "TunnelPort"},
		{"ipip with port", key4, tun, func(d *ipvs.Destination) { d.TunnelPort = 6080 }, "TunnelPort"},
		{"ipip csum", key4, tun, func(d *ipvs.Destination) { d.TunnelChecksum = true }, "TunnelChecksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.base
			tt.mod(&d)
			err := d.Validate(tt.svc)
			checkFieldErr(t, err, tt.field, "destination "+d.DestinationKey.String())
		})
	}
}

func TestTableValidateDuplicates(t *testing.T) {
	a := ipvs.VirtualServer{Service: svc("192.0.2.10:80"), Destinations: []ipvs.Destination{dest("10.0.0.1:80", 1), dest("10.0.0.1:80", 2)}}
	b := ipvs.VirtualServer{Service: svc("192.0.2.10:80")}
	err := ipvs.ValidateTable([]ipvs.VirtualServer{a, b})
	if !errors.Is(err, ipvs.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"destination 10.0.0.1:80: DestinationKey: duplicate", "service tcp 192.0.2.10:80: ServiceKey: duplicate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\ndoes not say %q", err, want)
		}
	}
}

func checkFieldErr(t *testing.T, err error, field, where string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var fe *ipvs.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ipvs.ErrInvalid) {
		t.Fatalf("err = %v, want a *FieldError wrapping ErrInvalid", err)
	}
	if fe.Field != field {
		t.Errorf("field %q, want %q (%v)", fe.Field, field, err)
	}
	if msg := err.Error(); !strings.Contains(msg, ": "+field+": ") || !strings.Contains(msg, where) {
		t.Errorf("%q does not name %q and %q", msg, field, where)
	}
}

func TestNormalize(t *testing.T) {
	s := svc("192.0.2.10:80")
	if got := s.Normalize().PersistenceMask; got != 32 {
		t.Errorf("v4 mask %d, want 32", got)
	}
	s6 := svc("[2001:db8::1]:80")
	if got := s6.Normalize().PersistenceMask; got != 128 {
		t.Errorf("v6 mask %d, want 128", got)
	}
	s.PersistenceMask = 24
	if got := s.Normalize().PersistenceMask; got != 24 {
		t.Errorf("mask %d, want 24", got)
	}
}
