package ipvs

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// The netlink framing of the kernel backend's requests and replies,
// written and walked in place: requests are appended to a reused buffer,
// replies are read where they were received, and neither builds a tree of
// attributes nor copies a message. A Sync reads every destination of the
// table and a load writes every one of them, so these are the backend's
// hot paths.

// nlAttr is one netlink attribute: its type (without the nested and
// byte-order flags) and value.
type nlAttr struct {
	typ uint16
	val []byte
}

// attrCursor walks the netlink attributes of rest, in place. A truncated
// or malformed attribute ends the walk with err (nl.ParseRouteAttr can
// slice past the end of an unaligned last attribute; this cannot).
type attrCursor struct {
	rest []byte
	err  error
}

// next returns the next attribute; false at the end or at an error.
func (c *attrCursor) next() (nlAttr, bool) {
	b := c.rest
	if len(b) == 0 || c.err != nil {
		return nlAttr{}, false
	}
	if len(b) < unix.SizeofNlAttr {
		c.err = fmt.Errorf("%d stray bytes after the attributes", len(b))
		return nlAttr{}, false
	}
	l := int(binary.NativeEndian.Uint16(b[0:2]))
	typ := binary.NativeEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
	if l < unix.SizeofNlAttr || l > len(b) {
		c.err = fmt.Errorf("attribute %d: length %d with %d bytes left", typ, l, len(b))
		return nlAttr{}, false
	}
	c.rest = b[min(nlaAlign(l), len(b)):]
	return nlAttr{typ: typ, val: b[unix.SizeofNlAttr:l:l]}, true
}

// parseAttrs splits b into attributes (for the rarely used replies; the
// hot paths walk an attrCursor).
func parseAttrs(b []byte) ([]nlAttr, error) {
	var out []nlAttr
	c := attrCursor{rest: b}
	for a, ok := c.next(); ok; a, ok = c.next() {
		out = append(out, a)
	}
	if c.err != nil {
		return nil, c.err
	}
	return out, nil
}

func nlaAlign(l int) int { return (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

func nlmsgAlign(l int) int { return (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// msgCursor walks the netlink messages of one received datagram, in
// place; a truncated or malformed message ends the walk with err.
type msgCursor struct {
	rest []byte
	err  error
}

// next returns the next message's header and payload; false at the end
// or at an error. The payload is in the receive buffer: valid until the
// next receive.
func (c *msgCursor) next() (unix.NlMsghdr, []byte, bool) {
	b := c.rest
	if len(b) == 0 || c.err != nil {
		return unix.NlMsghdr{}, nil, false
	}
	if len(b) < unix.NLMSG_HDRLEN {
		c.err = fmt.Errorf("%d stray bytes after the netlink messages", len(b))
		return unix.NlMsghdr{}, nil, false
	}
	h := unix.NlMsghdr{
		Len:   binary.NativeEndian.Uint32(b[0:4]),
		Type:  binary.NativeEndian.Uint16(b[4:6]),
		Flags: binary.NativeEndian.Uint16(b[6:8]),
		Seq:   binary.NativeEndian.Uint32(b[8:12]),
		Pid:   binary.NativeEndian.Uint32(b[12:16]),
	}
	if h.Len < unix.NLMSG_HDRLEN || uint64(h.Len) > uint64(len(b)) {
		c.err = fmt.Errorf("netlink message of length %d with %d bytes left", h.Len, len(b))
		return unix.NlMsghdr{}, nil, false
	}
	l := int(h.Len)
	c.rest = b[min(nlmsgAlign(l), len(b)):]
	return h, b[unix.NLMSG_HDRLEN:l:l], true
}

// nlBuf appends netlink messages and attributes. Lengths of a message and
// of a nested attribute are filled in when it ends; every attribute is
// padded to 4 bytes, its length field counting its value only (what
// vishvananda/netlink's nl.RtAttr sends, byte for byte).
type nlBuf []byte

// begin starts a generic-netlink message (nlmsghdr and genlmsghdr with
// cmd) and returns its offset for end.
func (b *nlBuf) begin(family uint16, flags uint16, seq uint32, cmd uint8) int {
	start := len(*b)
	var h [unix.NLMSG_HDRLEN + 4]byte
	binary.NativeEndian.PutUint16(h[4:6], family)
	binary.NativeEndian.PutUint16(h[6:8], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(h[8:12], seq)
	h[16], h[17] = cmd, ipvsGenlVersion
	*b = append(*b, h[:]...)
	return start
}

// end fills in the length of the message begun at start.
func (b nlBuf) end(start int) {
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
}

// nest starts a nested attribute and returns its offset for endNest.
func (b *nlBuf) nest(typ uint16) int {
	start := len(*b)
	*b = binary.NativeEndian.AppendUint16(binary.NativeEndian.AppendUint16(*b, 0), typ)
	return start
}

// endNest fills in the length of the nested attribute begun at start.
func (b nlBuf) endNest(start int) {
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
}

// attr appends an attribute with value v, padded.
func (b *nlBuf) attr(typ uint16, v ...byte) {
	l := unix.SizeofNlAttr + len(v)
	s := binary.NativeEndian.AppendUint16(binary.NativeEndian.AppendUint16(*b, uint16(l)), typ)
	s = append(s, v...)
	*b = append(s, make([]byte, nlaAlign(l)-l)...)
}

func (b *nlBuf) u16(typ uint16, v uint16) {
	var x [2]byte
	binary.NativeEndian.PutUint16(x[:], v)
	b.attr(typ, x[:]...)
}

func (b *nlBuf) be16(typ uint16, v uint16) {
	var x [2]byte
	binary.BigEndian.PutUint16(x[:], v)
	b.attr(typ, x[:]...)
}

func (b *nlBuf) u32(typ uint16, v uint32) {
	var x [4]byte
	binary.NativeEndian.PutUint32(x[:], v)
	b.attr(typ, x[:]...)
}

// str appends s NUL-terminated.
func (b *nlBuf) str(typ uint16, s string) {
	l := unix.SizeofNlAttr + len(s) + 1
	x := binary.NativeEndian.AppendUint16(binary.NativeEndian.AppendUint16(*b, uint16(l)), typ)
	x = append(append(x, s...), 0)
	*b = append(x, make([]byte, nlaAlign(l)-l)...)
}
