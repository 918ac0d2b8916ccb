package process

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

//go:generate go tool stringer -type=eventKind -trimprefix=ev -output=eventkind_string.go

// eventKind is the "what" of a proc connector event (linux/cn_proc.h),
// as far as the Tracker cares.
type eventKind uint32

const (
	evAck   eventKind = 0x00000000 // PROC_EVENT_NONE: the answer to a listen request
	evFork  eventKind = 0x00000001
	evExec  eventKind = 0x00000002
	evComm  eventKind = 0x00000200
	evExit  eventKind = 0x80000000
	evOther eventKind = 0xffffffff // a message that is not a process event
)

// Sizes and numbers of the netlink connector ABI (linux/netlink.h,
// linux/connector.h, linux/cn_proc.h).
const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	cnMsgLen    = 20 // struct cn_msg: idx, val, seq, ack u32; len, flags u16
	evHdrLen    = 16 // struct proc_event before event_data: what, cpu u32; timestamp_ns u64
	commLen     = 16 // TASK_COMM_LEN

	cnIdxProc = 1
	cnValProc = 1

	nlmsgNoop  = 1
	nlmsgError = 2
	nlmsgDone  = 3

	mcastListen = 1 // PROC_CN_MCAST_LISTEN
	mcastIgnore = 2 // PROC_CN_MCAST_IGNORE
)

// event is one proc connector message.
type event struct {
	// kind is the event's what: one of the constants above, or another
	// process event (uid, gid, sid, ptrace, coredump changes) that the
	// Tracker only counts in the sequence.
	kind eventKind
	cpu  uint32 // the CPU it happened on; 0xffffffff on acks
	seq  uint32 // per CPU sequence number; on an ack, the request's
	ack  uint32 // on an ack, the request's ack + 1
	// pid and tgid are the thread and process the event is about (the
	// child of a fork); a process, not a thread, when they are equal.
	pid, tgid int32
	// ppid and ptgid are the parent's (fork only).
	ppid, ptgid int32
	// errno is the kernel's answer to a listen request (ack only).
	errno uint32
	comm  string // the new name (comm only)
}

// thread reports whether the event is about a thread other than a
// process's main one; the Tracker ignores those.
func (e event) thread() bool { return e.pid != e.tgid }

var errShort = errors.New("truncated")

// parse decodes the netlink messages of one datagram read from a process
// connector socket. Messages that are not process events (no-ops,
// errors, other connector users) come back as evOther; malformed ones end
// the parse with an error, after the events decoded before them. The
// kernel sends one event per datagram (proc_event is 8-byte aligned only
// at the offset where it sends it), but parse reads any number.
func parse(b []byte) ([]event, error) {
	var out []event
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return out, fmt.Errorf("netlink header: %w (%d bytes)", errShort, len(b))
		}
		n := int(ne.Uint32(b[0:4]))
		typ := ne.Uint16(b[4:6])
		if n < nlmsgHdrLen || n > len(b) {
			return out, fmt.Errorf("netlink length %d of %d bytes", n, len(b))
		}
		msg := b[nlmsgHdrLen:n]
		if a := (n + 3) &^ 3; a < len(b) {
			b = b[a:]
		} else {
			b = nil
		}
		if typ == nlmsgNoop || typ == nlmsgError {
			out = append(out, event{kind: evOther})
			continue
		}
		ev, err := parseCn(msg)
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// parseCn decodes a cn_msg and the proc_event it carries.
func parseCn(b []byte) (event, error) {
	ne := binary.NativeEndian
	ev := event{kind: evOther}
	if len(b) < cnMsgLen {
		return ev, fmt.Errorf("connector header: %w (%d bytes)", errShort, len(b))
	}
	idx, val := ne.Uint32(b[0:4]), ne.Uint32(b[4:8])
	ev.seq, ev.ack = ne.Uint32(b[8:12]), ne.Uint32(b[12:16])
	n := int(ne.Uint16(b[16:18]))
	if idx != cnIdxProc || val != cnValProc {
		return ev, nil
	}
	b = b[cnMsgLen:]
	if n > len(b) {
		return ev, fmt.Errorf("connector length %d of %d bytes", n, len(b))
	}
	b = b[:n]
	if len(b) < evHdrLen {
		return ev, fmt.Errorf("process event header: %w (%d bytes)", errShort, len(b))
	}
	what := eventKind(ne.Uint32(b[0:4]))
	ev.cpu = ne.Uint32(b[4:8])
	d := b[evHdrLen:]
	need := 0
	switch what {
	case evAck:
		need = 4
	case evFork:
		need = 16
	case evExec:
		need = 8
	case evComm:
		need = 8 + commLen
	case evExit:
		need = 8
	default:
		ev.kind = what
		return ev, nil
	}
	if len(d) < need {
		return ev, fmt.Errorf("%v event: %w (%d bytes of data, want %d)", what, errShort, len(d), need)
	}
	ev.kind = what
	i32 := func(off int) int32 { return int32(ne.Uint32(d[off : off+4])) }
	switch what {
	case evAck:
		ev.errno = ne.Uint32(d[0:4])
	case evFork:
		ev.ppid, ev.ptgid, ev.pid, ev.tgid = i32(0), i32(4), i32(8), i32(12)
	case evExec, evExit:
		ev.pid, ev.tgid = i32(0), i32(4)
	case evComm:
		ev.pid, ev.tgid = i32(0), i32(4)
		// NUL-terminated within TASK_COMM_LEN: at most 15 bytes.
		c := d[8 : 8+commLen-1]
		if i := bytes.IndexByte(c, 0); i >= 0 {
			c = c[:i]
		}
		ev.comm = string(c)
	}
	return ev, nil
}

// listenMsg builds the request that makes the kernel send process events
// to the socket (op mcastListen) or stop (mcastIgnore): a netlink message
// to the kernel carrying a cn_msg for the proc connector with the op. The
// kernel answers with an ack event carrying seq and ack+1.
func listenMsg(op, seq, ack uint32, portID uint32) []byte {
	ne := binary.NativeEndian
	const n = nlmsgHdrLen + cnMsgLen + 4
	b := make([]byte, n)
	ne.PutUint32(b[0:4], n)
	ne.PutUint16(b[4:6], nlmsgDone)
	ne.PutUint32(b[8:12], seq)
	ne.PutUint32(b[12:16], portID)
	c := b[nlmsgHdrLen:]
	ne.PutUint32(c[0:4], cnIdxProc)
	ne.PutUint32(c[4:8], cnValProc)
	ne.PutUint32(c[8:12], seq)
	ne.PutUint32(c[12:16], ack)
	ne.PutUint16(c[16:18], 4)
	ne.PutUint32(c[cnMsgLen:], op)
	return b
}
