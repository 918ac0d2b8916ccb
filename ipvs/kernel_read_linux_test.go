package ipvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Host tests of the backend's reader: replies built here the way the
// kernel builds them (ip_vs_genl_fill_dest and ip_vs_genl_fill_service in
// net/netfilter/ipvs/ip_vs_ctl.c: 16-byte addresses, STATS with u32 and
// u64 counters, STATS64 with u64 counters and PAD attributes) are parsed
// back; what the encoder sends parses back to what was sent.

// genlMsg is the payload of a generic-netlink message: genlmsghdr and
// attrs.
func genlMsg(cmd uint8, attrs ...*nl.RtAttr) []byte {
	b := genlHeader(cmd).Serialize()
	for _, a := range attrs {
		b = append(b, a.Serialize()...)
	}
	return b
}

func u64Attr(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

// kernelStats adds the kernel's STATS (64: false) or STATS64 attribute
// of s to parent, as attribute typ.
func kernelStats(parent *nl.RtAttr, typ int, s Stats, is64 bool) {
	a := parent.AddRtAttr(typ, nil)
	vals := []uint64{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut, s.CPS, s.PPSIn, s.PPSOut, s.BPSIn, s.BPSOut}
	for i, v := range vals {
		t := i + 1
		switch {
		case is64:
			a.AddRtAttr(11, nil) // IPVS_STATS_ATTR_PAD, as nla_put_u64_64bit may add
			a.AddRtAttr(t, u64Attr(v))
		case t == ipvsStatsInBytes || t == ipvsStatsOutBytes:
			a.AddRtAttr(t, u64Attr(v))
		default:
			a.AddRtAttr(t, nl.Uint32Attr(uint32(v)))
		}
	}
}

func addr16(a netip.Addr) []byte {
	b := make([]byte, 16)
	copy(b, a.AsSlice())
	return b
}

// kernelDestMsg builds a destination message of an IPVS_CMD_GET_DEST dump
// as ip_vs_genl_fill_dest does.
func kernelDestMsg(kd kernelDest, stats32, stats64 *Stats) []byte {
	a := nl.NewRtAttr(ipvsCmdAttrDest, nil)
	a.AddRtAttr(ipvsDestAttrAddr, addr16(kd.Addr))
	a.AddRtAttr(ipvsDestAttrPort, nl.BEUint16Attr(kd.Port))
	a.AddRtAttr(ipvsDestAttrFwdMethod, nl.Uint32Attr(kd.FwdMethod))
	a.AddRtAttr(ipvsDestAttrWeight, nl.Uint32Attr(kd.Weight))
	a.AddRtAttr(ipvsDestAttrTunType, []byte{kd.TunType})
	a.AddRtAttr(ipvsDestAttrTunPort, nl.BEUint16Attr(kd.TunPort))
	a.AddRtAttr(ipvsDestAttrTunFlags, nl.Uint16Attr(kd.TunFlags))
	a.AddRtAttr(ipvsDestAttrUThresh, nl.Uint32Attr(kd.UThresh))
	a.AddRtAttr(ipvsDestAttrLThresh, nl.Uint32Attr(kd.LThresh))
	a.AddRtAttr(ipvsDestAttrActive, nl.Uint32Attr(kd.ActiveConns))
	a.AddRtAttr(ipvsDestAttrInact, nl.Uint32Attr(kd.InactiveConns))
	a.AddRtAttr(ipvsDestAttrPersist, nl.Uint32Attr(kd.PersistConns))
	a.AddRtAttr(ipvsDestAttrAddrFamily, nl.Uint16Attr(kd.Family))
	if stats32 != nil {
		kernelStats(a, ipvsDestAttrStats, *stats32, false)
	}
	if stats64 != nil {
		kernelStats(a, ipvsDestAttrStats64, *stats64, true)
	}
	return genlMsg(ipvsCmdNewDest, a)
}

// big is a set of counters past 32 bits.
var big = Stats{Connections: 1<<32 + 1, PacketsIn: 1<<33 + 2, PacketsOut: 1<<34 + 3, BytesIn: 1<<40 + 4, BytesOut: 1<<41 + 5,
	CPS: 1<<32 + 6, PPSIn: 7, PPSOut: 8, BPSIn: 1<<35 + 9, BPSOut: 10}

// trunc32 is what the kernel's 32-bit STATS says of s.
func trunc32(s Stats) Stats {
	t := func(v uint64) uint64 { return uint64(uint32(v)) }
	return Stats{t(s.Connections), t(s.PacketsIn), t(s.PacketsOut), s.BytesIn, s.BytesOut, t(s.CPS), t(s.PPSIn), t(s.PPSOut), t(s.BPSIn), t(s.BPSOut)}
}

func TestParseDestKernelReply(t *testing.T) {
	r4 := netip.MustParseAddr("192.0.2.21")
	kd := kernelDest{Addr: r4, Family: unix.AF_INET, Port: 8080, FwdMethod: fwdTunnel, Weight: 7, UThresh: 100, LThresh: 10,
		TunType: tunTypeGUE, TunPort: 6080, TunFlags: tunFlagCsum, ActiveConns: 3, InactiveConns: 4, PersistConns: 5}
	want := DestinationState{Destination: Destination{DestinationKey: DestinationKey{r4, 8080}, Forward: Tunnel, Weight: 7, UpperThreshold: 100, LowerThreshold: 10,
		TunnelType: GUE, TunnelPort: 6080, TunnelChecksum: true}, ActiveConns: 3, InactiveConns: 4}
	s32 := trunc32(big)
	for _, tc := range []struct {
		name      string
		s32, s64  *Stats
		wantStats Stats
	}{
		{"STATS and STATS64: STATS64", &s32, &big, big},
		{"STATS only (older kernels)", &s32, nil, s32},
		{"STATS64 only", nil, &big, big},
		{"no counters", nil, nil, Stats{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, svc6 := range []bool{false, true} { // v4 real server of a v4 or a v6 service
				got, err := parseDestMsg(kernelDestMsg(kd, tc.s32, tc.s64), svc6)
				if err != nil {
					t.Fatal(err)
				}
				w := want
				w.Stats = tc.wantStats
				if got != w {
					t.Errorf("svc6 %t:\n got %+v\nwant %+v", svc6, got, w)
				}
			}
		})
	}
}

// TestDestRoundTrip: what appendDest sends for a destination, read by
// parseDest and mapped back, is the destination (in Normalize form).
func TestDestRoundTrip(t *testing.T) {
	a := netip.MustParseAddr
	svc4 := ServiceKey{Protocol: TCP, Addr: a("192.0.2.10"), Port: 80}
	svc6 := ServiceKey{FWMark: 9, Family6: true}
	for _, tc := range []struct {
		svc ServiceKey
		d   Destination
	}{
		{svc4, Destination{DestinationKey: DestinationKey{a("192.0.2.21"), 8080}, Forward: Masquerade, Weight: 1, UpperThreshold: 9, LowerThreshold: 3}},
		{svc4, Destination{DestinationKey: DestinationKey{a("192.0.2.22"), 80}, Forward: Route, Weight: 65535}},
		{svc4, Destination{DestinationKey: DestinationKey{a("192.0.2.23"), 80}, Forward: Tunnel}},
		{svc4, Destination{DestinationKey: DestinationKey{a("192.0.2.24"), 80}, Forward: Tunnel, Weight: 2, TunnelType: GUE, TunnelPort: 6080, TunnelChecksum: true}},
		{svc4, Destination{DestinationKey: DestinationKey{a("192.0.2.25"), 80}, Forward: Tunnel, Weight: 2, TunnelType: GUE, TunnelPort: 65535}},
		{svc4, Destination{DestinationKey: DestinationKey{a("192.0.2.26"), 80}, Forward: Tunnel, Weight: 3, TunnelType: GRE, TunnelChecksum: true}},
		{svc4, Destination{DestinationKey: DestinationKey{a("2001:db8::27"), 80}, Forward: Tunnel, Weight: 4, TunnelType: GRE}},
		{svc6, Destination{DestinationKey: DestinationKey{a("192.0.2.28"), 0}, Forward: Tunnel, Weight: 5}},
		{svc6, Destination{DestinationKey: DestinationKey{a("2001:db8::29"), 443}, Forward: Tunnel, Weight: 6, TunnelType: GUE, TunnelPort: 5555}},
	} {
		_, kd, err := destinationToKernel(tc.svc, tc.d)
		if err != nil {
			t.Fatalf("%v: %v", tc.d, err)
		}
		// appendDest appends the nested attribute itself; parse its
		// payload.
		var buf nlBuf
		appendDest(&buf, kd, true)
		back, err := parseDest(buf[unix.SizeofNlAttr:])
		if err != nil {
			t.Fatalf("%v: parseDest: %v", tc.d, err)
		}
		ds, err := destinationFromKernel(&back, tc.svc.Is6())
		if err != nil {
			t.Fatalf("%v: destinationFromKernel: %v", tc.d, err)
		}
		if ds.Destination != tc.d.Normalize() {
			t.Errorf("round trip:\n got %+v\nwant %+v", ds.Destination, tc.d.Normalize())
		}
	}
}

// kernelServiceMsg builds a service message of an IPVS_CMD_GET_SERVICE
// dump as ip_vs_genl_fill_service does (from what the encoder sends,
// with a 16-byte address, the flags' full mask, the counters).
func kernelServiceMsg(t *testing.T, s Service, stats32, stats64 *Stats) []byte {
	t.Helper()
	ms, err := serviceToMoby(s)
	if err != nil {
		t.Fatal(err)
	}
	a := nl.NewRtAttr(ipvsCmdAttrService, nil)
	a.AddRtAttr(ipvsSvcAttrAF, nl.Uint16Attr(ms.AddressFamily))
	if ms.FWMark != 0 {
		a.AddRtAttr(ipvsSvcAttrFWMark, nl.Uint32Attr(ms.FWMark))
	} else {
		a.AddRtAttr(ipvsSvcAttrProtocol, nl.Uint16Attr(ms.Protocol))
		a.AddRtAttr(ipvsSvcAttrAddr, addr16(s.Addr))
		a.AddRtAttr(ipvsSvcAttrPort, nl.BEUint16Attr(ms.Port))
	}
	a.AddRtAttr(ipvsSvcAttrSchedName, nl.ZeroTerminated(ms.SchedName))
	a.AddRtAttr(ipvsSvcAttrFlags, append(nl.Uint32Attr(ms.Flags|svcFlagHashed), 0xff, 0xff, 0xff, 0xff))
	a.AddRtAttr(ipvsSvcAttrTimeout, nl.Uint32Attr(ms.Timeout))
	a.AddRtAttr(ipvsSvcAttrNetmask, nl.Uint32Attr(ms.Netmask))
	if stats32 != nil {
		kernelStats(a, ipvsSvcAttrStats, *stats32, false)
	}
	if stats64 != nil {
		kernelStats(a, ipvsSvcAttrStats64, *stats64, true)
	}
	return genlMsg(ipvsCmdNewService, a)
}

func TestParseServiceKernelReply(t *testing.T) {
	a := netip.MustParseAddr
	s32 := trunc32(big)
	for _, s := range []Service{
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: a("192.0.2.10"), Port: 80}, Scheduler: WeightedRoundRobin},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: a("192.0.2.11"), Port: 53}, Scheduler: SourceHashing, SchedFlags: FlagFallback | FlagPort, OnePacket: true, Persistence: 300 * time.Second, PersistenceMask: 24},
		{ServiceKey: ServiceKey{Protocol: SCTP, Addr: a("2001:db8::10"), Port: 3868}, Scheduler: MaglevHashing, Persistence: time.Hour, PersistenceMask: 64},
		{ServiceKey: ServiceKey{FWMark: 7}, Scheduler: LeastConnection},
		{ServiceKey: ServiceKey{FWMark: 7, Family6: true}, Scheduler: RoundRobin, Persistence: time.Second},
	} {
		for _, st := range []struct {
			s32, s64 *Stats
			want     Stats
		}{{&s32, &big, big}, {&s32, nil, s32}, {nil, nil, Stats{}}} {
			got, err := parseServiceMsg(kernelServiceMsg(t, s, st.s32, st.s64))
			if err != nil {
				t.Fatalf("%v: %v", s.ServiceKey, err)
			}
			if got.Service != s.Normalize() || got.Stats != st.want {
				t.Errorf("got %+v\nwant %+v with %+v", got, s.Normalize(), st.want)
			}
		}
	}
}

// TestParseMalformed: truncated and garbled replies are errors, never
// panics.
func TestParseMalformed(t *testing.T) {
	dest := kernelDestMsg(kernelDest{Addr: netip.MustParseAddr("192.0.2.1"), Family: unix.AF_INET, Port: 80, FwdMethod: fwdTunnel, TunType: tunTypeGRE}, &Stats{}, &big)
	svc := kernelServiceMsg(t, Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}, Scheduler: RoundRobin}, &Stats{}, &big)
	for n := range len(dest) {
		if _, err := parseDestMsg(dest[:n], false); err == nil {
			t.Errorf("destination reply cut at %d of %d bytes parsed", n, len(dest))
		}
	}
	for n := range len(svc) {
		if _, err := parseServiceMsg(svc[:n]); err == nil {
			t.Errorf("service reply cut at %d of %d bytes parsed", n, len(svc))
		}
	}
	// Wrong sizes and missing attributes.
	attr := func(typ int, v []byte) []byte { return nl.NewRtAttr(typ, v).Serialize() }
	ok := func(skip int) []byte {
		var b []byte
		for typ, v := range map[int][]byte{ipvsDestAttrAddr: {192, 0, 2, 1}, ipvsDestAttrPort: {0, 80}, ipvsDestAttrFwdMethod: nl.Uint32Attr(2), ipvsDestAttrWeight: nl.Uint32Attr(1)} {
			if typ != skip {
				b = append(b, attr(typ, v)...)
			}
		}
		return b
	}
	if _, err := parseDest(ok(0)); err != nil {
		t.Fatalf("minimal destination: %v", err)
	}
	for name, b := range map[string][]byte{
		"no address":        ok(ipvsDestAttrAddr),
		"no port":           ok(ipvsDestAttrPort),
		"no forward":        ok(ipvsDestAttrFwdMethod),
		"no weight":         ok(ipvsDestAttrWeight),
		"3-byte port":       append(ok(0), attr(ipvsDestAttrPort, []byte{1, 2, 3})...),
		"5-byte address":    append(ok(0), attr(ipvsDestAttrAddr, []byte{1, 2, 3, 4, 5})...),
		"2-byte tunnel typ": append(ok(0), attr(ipvsDestAttrTunType, []byte{1, 0})...),
		"short family":      append(ok(0), attr(ipvsDestAttrAddrFamily, []byte{2})...),
		"3-byte counter":    append(ok(0), attr(ipvsDestAttrStats64, attr(ipvsStatsConns, []byte{1, 2, 3}))...),
		"bad nested stats":  append(ok(0), attr(ipvsDestAttrStats64, []byte{200, 0, 1, 0, 0})...),
		"length below 4":    append(ok(0), 2, 0, 1, 0),
		"length past end":   append(ok(0), 64, 0, 1, 0, 0, 0, 0, 0),
		"stray bytes":       append(ok(0), 1, 2),
	} {
		if _, err := parseDest(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := parseDestMsg(genlMsg(ipvsCmdNewDest), false); err == nil {
		t.Error("message without a destination parsed")
	}
	if _, err := parseServiceMsg(genlMsg(ipvsCmdNewService, nl.NewRtAttr(ipvsCmdAttrService, attr(ipvsSvcAttrAF, nl.Uint16Attr(unix.AF_INET))))); err == nil {
		t.Error("service without scheduler parsed")
	}
}

// nlMsg is a received netlink message.
func nlMsg(typ uint16, flags uint16, seq uint32, data []byte) syscall.NetlinkMessage {
	return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ, Flags: flags, Seq: seq}, Data: data}
}

func errnoData(errno syscall.Errno) []byte {
	return binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
}

// feedReader gives r the messages up to the end of the answer.
func feedReader(r *replyReader, msgs ...syscall.NetlinkMessage) (done bool, err error) {
	for _, m := range msgs {
		if done, err = r.add(unix.NlMsghdr(m.Header), m.Data); done {
			return done, err
		}
	}
	return false, nil
}

// TestReplyReader: a multi-part dump is collected up to NLMSG_DONE, other
// requests' answers are skipped, an error answer is its errno, a dump
// marked NLM_F_DUMP_INTR is ErrDumpInterrupted, and a message the caller
// cannot take is an error at the end of the answer (not before: the dump
// is read to its end).
func TestReplyReader(t *testing.T) {
	const fam, seq = 0x20, 5
	multi := uint16(unix.NLM_F_MULTI)
	var out [][]byte
	reader := func() *replyReader {
		out = nil
		return &replyReader{seq: seq, family: fam, each: func(d []byte) error {
			out = append(out, d)
			if len(d) > 0 && d[0] == 0xee {
				return errors.New("bad message")
			}
			return nil
		}}
	}
	r := reader()
	if done, err := feedReader(r, nlMsg(unix.NLMSG_ERROR, 0, seq-1, errnoData(0)), nlMsg(fam, multi, seq, []byte{1}), nlMsg(fam, multi, seq, []byte{2})); done || err != nil {
		t.Fatalf("first part: %t, %v", done, err)
	}
	if done, err := feedReader(r, nlMsg(fam, multi, seq, []byte{3}), nlMsg(unix.NLMSG_DONE, multi, seq, errnoData(0))); !done || err != nil || len(out) != 3 || out[2][0] != 3 {
		t.Fatalf("second part: %t, %v, %v", done, err, out)
	}
	r = reader()
	if done, err := feedReader(r, nlMsg(fam, multi|unix.NLM_F_DUMP_INTR, seq, []byte{1}), nlMsg(unix.NLMSG_DONE, multi, seq, nil)); !done || !errors.Is(err, ErrDumpInterrupted) {
		t.Errorf("interrupted dump: %t, %v", done, err)
	}
	r = reader()
	if done, err := feedReader(r, nlMsg(unix.NLMSG_ERROR, 0, seq, errnoData(unix.ESRCH))); !done || !errors.Is(kernelErr(err, false), ErrNotFound) {
		t.Errorf("ESRCH: %t, %v", done, err)
	}
	r = reader()
	if done, err := feedReader(r, nlMsg(fam, 0, seq, []byte{1}), nlMsg(unix.NLMSG_ERROR, 0, seq, errnoData(0))); !done || err != nil || len(out) != 1 {
		t.Errorf("reply and ACK: %t, %v, %v", done, err, out)
	}
	r = reader()
	if done, err := feedReader(r, nlMsg(fam, multi, seq, []byte{0xee}), nlMsg(fam, multi, seq, []byte{0xee, 2})); done || err != nil {
		t.Errorf("bad message before the end: %t, %v", done, err)
	}
	if done, err := feedReader(r, nlMsg(fam, multi, seq, []byte{4}), nlMsg(unix.NLMSG_DONE, multi, seq, errnoData(0))); !done || err == nil || err.Error() != "bad message" || len(out) != 3 {
		t.Errorf("bad message at the end: %t, %v, %d messages", done, err, len(out))
	}
	for name, m := range map[string]syscall.NetlinkMessage{
		"short error":  nlMsg(unix.NLMSG_ERROR, 0, seq, []byte{1}),
		"other family": nlMsg(fam+1, 0, seq, []byte{1}),
	} {
		r = reader()
		if done, err := feedReader(r, m); !done || err == nil {
			t.Errorf("%s: %t, %v", name, done, err)
		}
	}
}

// FuzzParseDest: whatever the kernel (or anything on the socket) sends,
// the parsers return an error or a value, never panic. Seeded with
// kernel-shaped replies (see kernelDestMsg).
func FuzzParseDest(f *testing.F) {
	f.Add(kernelDestMsg(kernelDest{Addr: netip.MustParseAddr("192.0.2.1"), Family: unix.AF_INET, Port: 80, FwdMethod: fwdTunnel, Weight: 1,
		TunType: tunTypeGUE, TunPort: 6080, TunFlags: tunFlagCsum}, &Stats{Connections: 1}, &big))
	f.Add(kernelDestMsg(kernelDest{Addr: netip.MustParseAddr("2001:db8::1"), Family: unix.AF_INET6, FwdMethod: fwdRoute}, nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, svc6 := range []bool{false, true} {
			if d, err := parseDestMsg(b, svc6); err == nil && !d.Addr.IsValid() {
				t.Fatalf("parsed a destination without an address: %+v", d)
			}
		}
		parseServiceMsg(b)
	})
}
