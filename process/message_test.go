package process

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestParseEvents(t *testing.T) {
	for _, ev := range []event{
		{kind: evAck, cpu: ^uint32(0), seq: 7, ack: 8, errno: 1},
		{kind: evFork, cpu: 1, seq: 10, ppid: 1620, ptgid: 1620, pid: 1719, tgid: 1719},
		{kind: evFork, cpu: 0, seq: 11, ppid: 1620, ptgid: 1620, pid: 1721, tgid: 1719}, // a thread
		{kind: evExec, cpu: 3, seq: 4294967295, pid: 42, tgid: 42},
		{kind: evComm, cpu: 1, seq: 12, pid: 42, tgid: 42, comm: "Web Content"},
		{kind: evComm, cpu: 1, seq: 13, pid: 42, tgid: 42, comm: "fifteen-bytes!!"},
		{kind: evExit, cpu: 0, seq: 14, pid: 42, tgid: 42},
		{kind: 0x00000004, cpu: 0, seq: 15}, // PROC_EVENT_UID: counted in the sequence only
	} {
		got, err := parse(marshal(ev))
		if err != nil {
			t.Errorf("%+v: %v", ev, err)
			continue
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], ev) {
			t.Errorf("parse(marshal(%+v)) = %+v", ev, got)
		}
	}
}

// TestParseKernelBytes parses datagrams read from a 6.18 kernel: its ack
// to a listen request (with the CPU sequence in seq) and an exit.
func TestParseKernelBytes(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the bytes are little endian")
	}
	ack := hexBytes(t, "4c00000003000000ce3c0000000000000100000001000000ce3c0000010000002800000000000000010000009fbd537ac3040000000000000000000000000000000000000000000000000000")
	exit := hexBytes(t, "4c00000003000000d03c0000000000000100000001000000d03c000000000000280000000000008001000000e940699cc30400008e0600008e06000000000000110000006206000054060000")
	got, err := parse(append(pad4(ack), exit...))
	want := []event{
		{kind: evAck, cpu: 1, seq: 15566, ack: 1},
		{kind: evExit, cpu: 1, seq: 15568, pid: 1678, tgid: 1678},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v\nwant %+v", got, err, want)
	}
}

func TestParseOthers(t *testing.T) {
	ne := binary.NativeEndian
	hdr := func(typ uint16, payload []byte) []byte {
		b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(payload))
		ne.PutUint32(b[0:4], uint32(nlmsgHdrLen+len(payload)))
		ne.PutUint16(b[4:6], typ)
		return append(b, payload...)
	}
	other := marshal(event{kind: evExec, pid: 1, tgid: 1})
	ne.PutUint32(other[nlmsgHdrLen:], 11) // another connector user's idx
	for name, b := range map[string][]byte{
		"noop":      hdr(nlmsgNoop, nil),
		"error":     hdr(nlmsgError, make([]byte, 20)),
		"other idx": other,
	} {
		got, err := parse(b)
		if err != nil || len(got) != 1 || got[0].kind != evOther {
			t.Errorf("%s: got %+v, %v; want one evOther", name, got, err)
		}
	}
	if got, err := parse(nil); err != nil || len(got) != 0 {
		t.Errorf("empty: %+v, %v", got, err)
	}
}

func TestParseMalformed(t *testing.T) {
	ne := binary.NativeEndian
	good := marshal(event{kind: evExec, cpu: 0, seq: 1, pid: 5, tgid: 5})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"short header":  good[:10],
		"length 0":      mod(func(b []byte) []byte { ne.PutUint32(b, 0); return b }),
		"length > data": mod(func(b []byte) []byte { ne.PutUint32(b, 1000); return b }),
		"short cn_msg":  mod(func(b []byte) []byte { ne.PutUint32(b, 30); return b[:30] }),
		"cn len > data": mod(func(b []byte) []byte { ne.PutUint16(b[nlmsgHdrLen+16:], 200); return b }),
		"short event":   mod(func(b []byte) []byte { ne.PutUint16(b[nlmsgHdrLen+16:], 8); return b }),
		"short exec": mod(func(b []byte) []byte {
			ne.PutUint16(b[nlmsgHdrLen+16:], evHdrLen+4)
			return b
		}),
		"short comm": mod(func(b []byte) []byte {
			ne.PutUint32(b[nlmsgHdrLen+cnMsgLen:], uint32(evComm))
			ne.PutUint16(b[nlmsgHdrLen+16:], evHdrLen+8+10)
			return b
		}),
	} {
		if got, err := parse(b); err == nil {
			t.Errorf("%s: parsed as %+v, want an error", name, got)
		}
	}
	// The events before a malformed message are returned.
	got, err := parse(append(append([]byte(nil), good...), good[:20]...))
	if err == nil || len(got) != 1 || got[0].pid != 5 {
		t.Errorf("good then bad: %+v, %v", got, err)
	}
	if !errors.Is(func() error { _, err := parse(good[:4]); return err }(), errShort) {
		t.Error("a short header is not errShort")
	}
}

func TestListenMsg(t *testing.T) {
	b := listenMsg(mcastListen, 0x01020304, 0x0a0b0c0d, 99)
	ne := binary.NativeEndian
	if len(b) != 40 || ne.Uint32(b[0:4]) != 40 || ne.Uint16(b[4:6]) != nlmsgDone || ne.Uint32(b[12:16]) != 99 {
		t.Fatalf("netlink header % x", b[:16])
	}
	c := b[nlmsgHdrLen:]
	if ne.Uint32(c[0:4]) != cnIdxProc || ne.Uint32(c[4:8]) != cnValProc || ne.Uint32(c[8:12]) != 0x01020304 ||
		ne.Uint32(c[12:16]) != 0x0a0b0c0d || ne.Uint16(c[16:18]) != 4 || ne.Uint32(c[20:24]) != mcastListen {
		t.Fatalf("connector message % x", c)
	}
}

// FuzzParse checks that parse never panics, that what it returns is
// consistent, and that what it decodes marshals back to the same events.
func FuzzParse(f *testing.F) {
	for _, ev := range []event{
		{kind: evAck, cpu: ^uint32(0), ack: 1},
		{kind: evFork, cpu: 1, seq: 2, ppid: 1, ptgid: 1, pid: 2, tgid: 2},
		{kind: evExec, pid: 3, tgid: 3},
		{kind: evComm, pid: 3, tgid: 3, comm: "x"},
		{kind: evExit, pid: 3, tgid: 3},
	} {
		f.Add(marshal(ev))
		f.Add(append(marshal(ev), marshal(ev)...))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _ := parse(b)
		for _, ev := range evs {
			if len(ev.comm) >= commLen {
				t.Fatalf("comm %q of %d bytes", ev.comm, len(ev.comm))
			}
			if ev.kind == evOther {
				continue
			}
			again, err := parse(marshal(ev))
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], ev) {
				t.Fatalf("%+v marshals and parses as %+v, %v", ev, again, err)
			}
		}
	})
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

// pad4 pads a netlink message to the 4-byte alignment of the next.
func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
