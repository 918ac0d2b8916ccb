package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/internal/logx"
)

// readLoop receives, validates and hands accepted adverts to the loop.
func (r *Router) readLoop(ctx context.Context, out chan<- rxAdvert) error {
	buf := make([]byte, 2048)
	var a Advertisement
	var backoff time.Duration
	for {
		n, info, err := r.conn.ReadAdvert(ctx, buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			if c := r.n.ReadErrors.Add(1); logx.Sampled(c) {
				r.view.Load().log.Warn("vrrp: receive error", "err", err, "errors", c)
			}
			// Back off a little so a persistent error does not spin.
			backoff = min(max(2*backoff, time.Millisecond), 100*time.Millisecond)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		adv, ok := r.accept(buf[:n], info, &a)
		if !ok {
			continue
		}
		select {
		case out <- adv:
		case <-ctx.Done():
			return nil
		}
	}
}

// accept validates one message (scratch is the Advertisement to parse it
// into) and counts it: accepted, or dropped and why. An accepted advert's
// time is when it arrived, if the Conn knows, or now.
func (r *Router) accept(b []byte, info PacketInfo, scratch *Advertisement) (rxAdvert, bool) {
	if why := r.validate(b, info, scratch); why != DropNone {
		r.n.drops[why].Add(1)
		// Check first: building the arguments allocates.
		if log := r.view.Load().log; why != DropVRID && why != DropOwn && log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug("vrrp: advert dropped", "src", info.Src, "reason", why.String())
		}
		return rxAdvert{}, false
	}
	r.n.AdvertsReceived.Add(1)
	if scratch.Priority == PriorityStop {
		r.n.PriorityZeroRx.Add(1)
	}
	at := info.Time
	if at.IsZero() {
		at = time.Now()
	}
	return rxAdvert{prio: scratch.Priority, interval: scratch.Interval, src: info.Src.Unmap(), at: at}, true
}

// validate applies keepalived's receive checks to one message, with the
// configuration in force, and returns why it must be dropped, or
// DropNone. An address list that differs from ours is counted and logged
// but accepted, as keepalived does.
func (r *Router) validate(b []byte, info PacketInfo, a *Advertisement) DropReason {
	v := r.view.Load()
	// RFC 5798 §7.1's TTL check is for multicast: a unicast advert may
	// cross routers (unicast_ttl), and keepalived accepts it from a
	// configured peer whatever its TTL.
	if info.TTL != TTL && !r.unicast {
		return DropTTL
	}
	if err := a.UnmarshalWith(b, info.Src.Unmap(), info.Dst.Unmap(), ParseOptions{V3ChecksumAsV2: v.cfg.V3ChecksumAsV2}); err != nil {
		switch {
		case errors.Is(err, ErrVersion):
			return DropVersion
		case errors.Is(err, ErrChecksum):
			return DropChecksum
		case errors.Is(err, ErrAuthAH), errors.Is(err, ErrAuthType):
			return DropAuth
		}
		return DropMalformed
	}
	if a.Version != r.version {
		return DropVersion
	}
	if a.VRID != r.vrid {
		return DropVRID
	}
	src := info.Src.Unmap()
	if src == r.local {
		return DropOwn
	}
	if r.unicast && !containsAddr(v.groups, src) {
		return DropPeer
	}
	if a.Version == V2 {
		if a.AuthType != v.cfg.AuthType || (a.AuthType == AuthSimple && a.Auth != v.auth) {
			return DropAuth
		}
		if a.Interval != v.cfg.Interval {
			return DropInterval
		}
	}
	if !sameAddrs(a.Addrs, v.vips) {
		if r.n.AddrMismatch.Add(1) == 1 {
			v.log.Warn("vrrp: advert address list differs from ours; accepting it", "src", src,
				"theirs", fmt.Sprint(a.Addrs), "ours", fmt.Sprint(v.vips))
		}
	}
	return DropNone
}

func containsAddr(s []netip.Addr, a netip.Addr) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !containsAddr(b, x) {
			return false
		}
	}
	return true
}
