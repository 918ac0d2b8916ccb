package ipvs

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// genlHeader is a struct genlmsghdr as nl.NetlinkRequestData: the IPVS
// command, version 1 (the tests' replies and the reference encoder).
type genlHeader uint8

func (h genlHeader) Len() int          { return 4 }
func (h genlHeader) Serialize() []byte { return []byte{uint8(h), ipvsGenlVersion, 0, 0} }

// rtAttrEncode is the encoder the backend had before nlBuf: moby/ipvs's
// way, a tree of nl.RtAttr serialized by nl.NetlinkRequest. It is the
// reference nlBuf must match byte for byte.
func rtAttrEncode(family uint16, c Change, seq uint32, flags int) ([]byte, error) {
	cmd, ms, kd, err := changeToKernel(c)
	if err != nil {
		return nil, err
	}
	full := c.Op != OpDeleteService && c.Op != OpDeleteDestination
	req := nl.NewNetlinkRequest(int(family), flags)
	req.Seq = seq
	req.AddData(genlHeader(cmd))
	req.AddData(rtServiceAttr(ms, full && kd == nil))
	if kd != nil {
		req.AddData(rtDestAttr(kd, full))
	}
	return req.Serialize(), nil
}

func rtServiceAttr(ms *mobyipvs.Service, full bool) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrService, nil)
	a.AddRtAttr(ipvsSvcAttrAF, nl.Uint16Attr(ms.AddressFamily))
	if ms.FWMark != 0 {
		a.AddRtAttr(ipvsSvcAttrFWMark, nl.Uint32Attr(ms.FWMark))
	} else {
		a.AddRtAttr(ipvsSvcAttrProtocol, nl.Uint16Attr(ms.Protocol))
		a.AddRtAttr(ipvsSvcAttrAddr, ms.Address)
		a.AddRtAttr(ipvsSvcAttrPort, nl.BEUint16Attr(ms.Port))
	}
	if full {
		a.AddRtAttr(ipvsSvcAttrSchedName, nl.ZeroTerminated(ms.SchedName))
		flags := make([]byte, 8)
		binary.NativeEndian.PutUint32(flags[0:], ms.Flags)
		binary.NativeEndian.PutUint32(flags[4:], 0xffffffff)
		a.AddRtAttr(ipvsSvcAttrFlags, flags)
		a.AddRtAttr(ipvsSvcAttrTimeout, nl.Uint32Attr(ms.Timeout))
		a.AddRtAttr(ipvsSvcAttrNetmask, nl.Uint32Attr(ms.Netmask))
	}
	return a
}

func rtDestAttr(kd *kernelDest, full bool) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrDest, nil)
	a.AddRtAttr(ipvsDestAttrAddr, kd.Addr.AsSlice())
	a.AddRtAttr(ipvsDestAttrPort, nl.BEUint16Attr(kd.Port))
	a.AddRtAttr(ipvsDestAttrAddrFamily, nl.Uint16Attr(kd.Family))
	if full {
		a.AddRtAttr(ipvsDestAttrFwdMethod, nl.Uint32Attr(kd.FwdMethod))
		a.AddRtAttr(ipvsDestAttrWeight, nl.Uint32Attr(kd.Weight))
		a.AddRtAttr(ipvsDestAttrUThresh, nl.Uint32Attr(kd.UThresh))
		a.AddRtAttr(ipvsDestAttrLThresh, nl.Uint32Attr(kd.LThresh))
		a.AddRtAttr(ipvsDestAttrTunType, []byte{kd.TunType})
		a.AddRtAttr(ipvsDestAttrTunPort, nl.BEUint16Attr(kd.TunPort))
		a.AddRtAttr(ipvsDestAttrTunFlags, nl.Uint16Attr(kd.TunFlags))
	}
	return a
}

// encodeCases are changes of every kind, family, forwarding method,
// tunnel and scheduler setting.
func encodeCases() []Change {
	a := netip.MustParseAddr
	svcs := []Service{
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: a("192.0.2.10"), Port: 53}, Scheduler: SourceHashing, SchedFlags: FlagFallback, Persistence: 300 * time.Second, PersistenceMask: 24},
		{ServiceKey: ServiceKey{Protocol: SCTP, Addr: a("2001:db8::10"), Port: 3868}, Scheduler: MaglevHashing, SchedFlags: FlagFallback | FlagPort, OnePacket: true, PersistenceMask: 64},
		{ServiceKey: ServiceKey{FWMark: 7, Family6: true}, Scheduler: RoundRobin},
		{ServiceKey: ServiceKey{FWMark: 8}, Scheduler: WeightedLeastConnection, Persistence: time.Second},
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: a("203.0.113.1"), Port: 65535}, Scheduler: LocalityLeastConnectionRepl},
	}
	dests := []Destination{
		{DestinationKey: DestinationKey{a("198.51.100.7"), 8053}, Forward: Route, Weight: 300, UpperThreshold: 9, LowerThreshold: 4},
		{DestinationKey: DestinationKey{a("198.51.100.8"), 1}, Forward: Masquerade},
		{DestinationKey: DestinationKey{a("198.51.100.9"), 80}, Forward: Tunnel, Weight: 1, TunnelType: GUE, TunnelPort: 6080, TunnelChecksum: true},
		{DestinationKey: DestinationKey{a("2001:db8::7"), 80}, Forward: Tunnel, Weight: 2, TunnelType: GRE, TunnelChecksum: true},
		{DestinationKey: DestinationKey{a("2001:db8::8"), 443}, Forward: Masquerade, Weight: 65535},
	}
	var out []Change
	for _, s := range svcs {
		for _, op := range []Op{OpCreateService, OpUpdateService, OpDeleteService} {
			out = append(out, Change{Op: op, Service: s})
		}
		for _, d := range dests {
			if d.Addr.Is6() != s.Is6() && d.Forward != Tunnel {
				continue
			}
			for _, op := range []Op{OpCreateDestination, OpUpdateDestination, OpDeleteDestination} {
				out = append(out, Change{Op: op, Service: s, Dest: d})
			}
		}
	}
	return out
}

// TestEncodeMatchesRtAttr: nlBuf sends, byte for byte, what the
// nl.RtAttr encoder (moby/ipvs's way) sent, for every kind of change, one
// by one and several in one buffer.
func TestEncodeMatchesRtAttr(t *testing.T) {
	b := &batchSocket{family: 0x1234}
	var all, allWant []byte
	for i, c := range encodeCases() {
		for _, flags := range []uint16{0, unix.NLM_F_ACK} {
			want, err := rtAttrEncode(b.family, c, uint32(100+i), int(flags))
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			got, err := b.encode(nil, c, uint32(100+i), flags)
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%v (flags %#x):\n got % x\nwant % x", c, flags, []byte(got), want)
			}
			if flags == 0 {
				all, allWant = append(all, got...), append(allWant, want...)
			}
		}
	}
	// Appended to a buffer that holds other requests.
	var buf nlBuf
	for i, c := range encodeCases() {
		var err error
		if buf, err = b.encode(buf, c, uint32(100+i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(buf, allWant) || !bytes.Equal(all, allWant) {
		t.Error("requests appended to one buffer differ from the reference")
	}
	// A change that cannot be encoded leaves the buffer as it was.
	bad := Change{Op: OpCreateDestination, Service: Service{ServiceKey: ServiceKey{FWMark: 1}}, Dest: Destination{DestinationKey: DestinationKey{netip.MustParseAddr("192.0.2.1"), 0}, Forward: Tunnel, TunnelType: GUE}}
	if got, err := b.encode(buf, bad, 1, 0); err == nil || !bytes.Equal(got, allWant) {
		t.Errorf("unencodable change: %v, buffer changed: %t", err, !bytes.Equal(got, allWant))
	}
}

// answer is a netlink error message (errno 0: an ACK) for seq.
func answer(seq uint32, errno syscall.Errno) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+4+unix.NLMSG_HDRLEN) // NETLINK_CAP_ACK: the request's header only
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[16:], uint32(-int32(errno)))
	return b
}

// TestChunkAnswers: the errors of a chunk whose last request alone asked
// for an ACK go to the right requests; the chunk is answered at the last
// request's ACK or error and not before; answers of other chunks and
// other messages are skipped; a garbled datagram is an error.
func TestChunkAnswers(t *testing.T) {
	type failure struct {
		j     int
		errno syscall.Errno
	}
	run := func(n int, dgrams ...[]byte) (fails []failure, done bool, known int, err error) {
		a := chunkAnswers{seq0: 1000, n: n}
		for _, d := range dgrams {
			if a.done {
				t.Fatal("datagram after the chunk was answered")
			}
			if err = a.add(d, func(j int, errno syscall.Errno) { fails = append(fails, failure{j, errno}) }); err != nil {
				break
			}
		}
		return fails, a.done, a.known, err
	}
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }

	// Failures in the middle, each its own datagram as the kernel sends
	// them, then the last request's ACK.
	fails, done, known, err := run(5, answer(1001, unix.EEXIST), answer(1003, unix.ENOENT), answer(1004, 0))
	if want := []failure{{1, unix.EEXIST}, {3, unix.ENOENT}}; !slices.Equal(fails, want) || !done || known != 5 || err != nil {
		t.Errorf("middle failures: %v, done %t, known %d, %v; want %v", fails, done, known, err, want)
	}
	// Not done before the last request's answer.
	fails, done, known, _ = run(5, answer(1001, unix.EEXIST))
	if len(fails) != 1 || done || known != 2 {
		t.Errorf("before the last answer: %v, done %t, known %d", fails, done, known)
	}
	// The last request fails: that is its answer.
	fails, done, _, _ = run(3, answer(1002, unix.ESRCH))
	if want := []failure{{2, unix.ESRCH}}; !slices.Equal(fails, want) || !done {
		t.Errorf("last fails: %v, done %t", fails, done)
	}
	// Every request fails; several answers in one datagram.
	fails, done, _, _ = run(3, cat(answer(1000, unix.ENOENT), answer(1001, unix.ENOENT)), answer(1002, unix.ENOENT))
	if len(fails) != 3 || !done {
		t.Errorf("all fail: %v, done %t", fails, done)
	}
	// A chunk of one (a single write).
	if fails, done, _, _ = run(1, answer(1000, 0)); len(fails) != 0 || !done {
		t.Errorf("one request: %v, done %t", fails, done)
	}
	// Answers of an earlier chunk, of sequence numbers past this one, a
	// repeated answer, a short error and another message type are skipped.
	short := answer(1001, unix.EINVAL)[:unix.NLMSG_HDRLEN] // no errno
	binary.NativeEndian.PutUint32(short, uint32(len(short)))
	done2 := answer(1001, unix.EINVAL)
	binary.NativeEndian.PutUint16(done2[4:], unix.NLMSG_DONE)
	fails, done, _, err = run(3, cat(answer(999, unix.EEXIST), answer(1003, 0), short, done2), answer(1000, unix.EPERM), answer(1000, unix.EPERM), answer(1002, 0))
	if want := []failure{{0, unix.EPERM}}; !slices.Equal(fails, want) || !done || err != nil {
		t.Errorf("strays: %v, done %t, %v; want %v", fails, done, err, want)
	}
	// A truncated datagram.
	if _, _, _, err = run(3, answer(1000, 0)[:10]); err == nil {
		t.Error("truncated datagram accepted")
	}
}

// TestSendMarksLastForACK: of a chunk, only the last request that could
// be encoded asks for an ACK.
func TestSendMarksLastForACK(t *testing.T) {
	b := &batchSocket{family: 0x1234}
	cs := encodeCases()[:6]
	cs = append(cs, Change{Op: OpCreateDestination, Service: cs[0].Service, Dest: Destination{DestinationKey: DestinationKey{netip.MustParseAddr("192.0.2.1"), 0}, Forward: Tunnel, TunnelType: GUE}})
	errs := make([]error, len(cs))
	buf := b.encodeChunk(cs, errs)
	if len(b.sent) != 6 || errs[6] == nil || slices.ContainsFunc(errs[:6], func(err error) bool { return err != nil }) {
		t.Fatalf("encodeChunk: %d requests, errors %v", len(b.sent), errs)
	}
	c := msgCursor{rest: buf}
	i := 0
	for h, _, ok := c.next(); ok; h, _, ok = c.next() {
		if ack := h.Flags&unix.NLM_F_ACK != 0; ack != (i == 5) || h.Flags&unix.NLM_F_REQUEST == 0 {
			t.Errorf("request %d: flags %#x", i, h.Flags)
		}
		i++
	}
	if i != 6 || c.err != nil {
		t.Errorf("%d requests, %v", i, c.err)
	}
}

// BenchmarkEncode: a load's requests (a service and its 10 destinations),
// encoded by nlBuf and by the nl.RtAttr reference.
func BenchmarkEncode(b *testing.B) {
	w := newBenchWorkload(1, 10)
	var cs []Change
	for _, v := range w.table {
		cs = append(cs, Change{Op: OpCreateService, Service: v.Service})
		for _, d := range v.Destinations {
			cs = append(cs, Change{Op: OpCreateDestination, Service: v.Service, Dest: d})
		}
	}
	bs := &batchSocket{family: 0x1234}
	b.Run("nlBuf", func(b *testing.B) {
		errs := make([]error, len(cs))
		for b.Loop() {
			bs.encodeChunk(cs, errs)
		}
	})
	b.Run("RtAttr", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for i, c := range cs {
				m, err := rtAttrEncode(bs.family, c, uint32(i), 0)
				if err != nil {
					b.Fatal(err)
				}
				buf = append(buf, m...)
			}
		}
	})
}

// BenchmarkParseDests: a dump of 10 destinations (with STATS and
// STATS64, as the kernel sends them) parsed in place.
func BenchmarkParseDests(b *testing.B) {
	var dgram []byte
	for i := range 10 {
		kd := kernelDest{Addr: netip.AddrFrom4([4]byte{198, 19, 0, byte(i)}), Family: unix.AF_INET, Port: 8000, FwdMethod: fwdMasq, Weight: uint32(i)}
		s := Stats{Connections: 1, BytesIn: 1 << 40}
		p := kernelDestMsg(kd, &s, &s)
		h := make([]byte, unix.NLMSG_HDRLEN)
		binary.NativeEndian.PutUint32(h, uint32(len(h)+len(p)))
		binary.NativeEndian.PutUint16(h[4:], 0x20)
		binary.NativeEndian.PutUint32(h[8:], 5)
		dgram = append(append(dgram, h...), p...)
		dgram = append(dgram, make([]byte, nlmsgAlign(len(dgram))-len(dgram))...)
	}
	b.SetBytes(int64(len(dgram)))
	var out []DestinationState
	for b.Loop() {
		out = out[:0]
		r := replyReader{seq: 5, family: 0x20, each: func(data []byte) error {
			d, err := parseDestMsg(data, false)
			out = append(out, d)
			return err
		}}
		c := msgCursor{rest: dgram}
		for h, data, ok := c.next(); ok; h, data, ok = c.next() {
			if _, err := r.add(h, data); err != nil {
				b.Fatal(err)
			}
		}
		if len(out) != 10 {
			b.Fatalf("%d destinations", len(out))
		}
	}
}
