package ipvs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink/nl"
)

// The table-wide commands and attributes (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdSetConfig = 12 // IPVS_CMD_SET_CONFIG
	ipvsCmdGetConfig = 13 // IPVS_CMD_GET_CONFIG
	ipvsCmdFlush     = 17 // IPVS_CMD_FLUSH

	ipvsCmdAttrTimeoutTCP    = 4 // IPVS_CMD_ATTR_TIMEOUT_TCP: u32 seconds
	ipvsCmdAttrTimeoutTCPFin = 5 // IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u32 seconds
	ipvsCmdAttrTimeoutUDP    = 6 // IPVS_CMD_ATTR_TIMEOUT_UDP: u32 seconds
)

var _ Admin = (*Kernel)(nil)

// Flush deletes every service of the table with its destinations
// (IPVS_CMD_FLUSH), including those of other programs. ErrClosed after
// Close.
func (k *Kernel) Flush(ctx context.Context) error {
	return k.do(ctx, "flush "+k.where, func(b *batchSocket) error {
		_, err := b.request(ipvsCmdFlush, false)
		return kernelErr(err, false)
	})
}

// Timeouts reads the connection timeouts (IPVS_CMD_GET_CONFIG).
// ErrClosed after Close.
func (k *Kernel) Timeouts(ctx context.Context) (Timeouts, error) {
	var t Timeouts
	err := k.do(ctx, "read timeouts in "+k.where, func(b *batchSocket) error {
		msgs, err := b.request(ipvsCmdGetConfig, false)
		if err != nil {
			return kernelErr(err, false)
		}
		if len(msgs) != 1 {
			return fmt.Errorf("%d replies, want 1", len(msgs))
		}
		t, err = parseTimeouts(msgs[0])
		return err
	})
	return t, err
}

// SetTimeouts sets the non-zero timeouts of t (IPVS_CMD_SET_CONFIG) and
// leaves the others as they are. An invalid t is an error wrapping
// ErrInvalid; ErrClosed after Close.
func (k *Kernel) SetTimeouts(ctx context.Context, t Timeouts) error {
	what := fmt.Sprintf("set %v in %s", t, k.where)
	if err := t.Validate(); err != nil {
		return opErr(what, err)
	}
	return k.do(ctx, what, func(b *batchSocket) error {
		_, err := b.request(ipvsCmdSetConfig, false, timeoutAttrs(t)...)
		return kernelErr(err, false)
	})
}

// timeoutAttrs encodes the non-zero timeouts of t (the kernel leaves a
// missing or zero one unchanged).
func timeoutAttrs(t Timeouts) []*nl.RtAttr {
	var out []*nl.RtAttr
	for _, f := range []struct {
		typ int
		d   time.Duration
	}{{ipvsCmdAttrTimeoutTCP, t.TCP}, {ipvsCmdAttrTimeoutTCPFin, t.TCPFin}, {ipvsCmdAttrTimeoutUDP, t.UDP}} {
		if f.d > 0 {
			out = append(out, nl.NewRtAttr(f.typ, nl.Uint32Attr(uint32(f.d/time.Second))))
		}
	}
	return out
}

// parseTimeouts reads the reply to IPVS_CMD_GET_CONFIG, genlmsghdr
// first: all three timeouts are required (every kernel sends them).
func parseTimeouts(msg []byte) (Timeouts, error) {
	var t Timeouts
	if len(msg) < 4 {
		return t, fmt.Errorf("timeouts message of %d bytes, no generic netlink header", len(msg))
	}
	attrs, err := parseAttrs(msg[4:])
	if err != nil {
		return t, fmt.Errorf("timeouts message: %w", err)
	}
	seen := 0
	for _, a := range attrs {
		var dst *time.Duration
		var what string
		switch a.typ {
		case ipvsCmdAttrTimeoutTCP:
			dst, what = &t.TCP, "tcp timeout"
		case ipvsCmdAttrTimeoutTCPFin:
			dst, what = &t.TCPFin, "tcpfin timeout"
		case ipvsCmdAttrTimeoutUDP:
			dst, what = &t.UDP, "udp timeout"
		default:
			continue
		}
		v, err := attrU32(what, a)
		if err != nil {
			return t, fmt.Errorf("timeouts message: %w", err)
		}
		*dst = time.Duration(v) * time.Second
		seen++
	}
	if seen != 3 {
		return t, errors.New("timeouts message without the tcp, tcpfin and udp timeouts")
	}
	return t, nil
}
