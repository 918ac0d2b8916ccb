package vrrp_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// v3Config is baseConfig in VRRPv3 (1 s adverts: the same timers).
func v3Config(name string, prio uint8, asV2 bool) vrrp.Config {
	c := baseConfig(name, prio)
	c.Version, c.V3ChecksumAsV2 = vrrp.V3, asV2
	return c
}

// A router with V3ChecksumAsV2 sends the VRRPv2 checksum and accepts
// either form. A (priority 200) and B (100) have the option, C (150) has
// not: C drops A's adverts as bad checksums and becomes master beside A;
// A and B accept C's RFC-form adverts, so B stays backup and A master.
func TestRouterV3ChecksumAsV2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		raw := s.join("192.0.2.9")
		type frame struct {
			src  string
			asV2 bool
		}
		var frames []frame
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			b := make([]byte, 1500)
			for {
				n, info, err := raw.ReadAdvert(ctx, b)
				if err != nil {
					return
				}
				var a vrrp.Advertisement
				if err := a.UnmarshalWith(b[:n], info.Src, info.Dst, vrrp.ParseOptions{V3ChecksumAsV2: true}); err != nil {
					t.Errorf("%v: %v", info.Src, err)
					continue
				}
				if a.ChecksumAsV2 != errors.Is(a.Unmarshal(b[:n], info.Src, info.Dst), vrrp.ErrChecksum) {
					t.Errorf("%v: ChecksumAsV2 %v disagrees with strict parsing", info.Src, a.ChecksumAsV2)
				}
				frames = append(frames, frame{info.Src.String(), a.ChecksumAsV2})
			}
		}()
		a := s.start(v3Config("A", 200, true), s.join("192.0.2.1"))
		b := s.start(v3Config("B", 100, true), s.join("192.0.2.2"))
		c := s.start(v3Config("C", 150, false), s.join("192.0.2.3"))
		time.Sleep(10 * time.Second)
		stA, stB, stC := a.r.Stats(), b.r.Stats(), c.r.Stats()
		a.crash()
		b.stop()
		c.stop()
		cancel()
		<-done
		wantBecame(t, s, a, vrrp.Master, down200)
		wantBecame(t, s, b, vrrp.Master)
		wantBecame(t, s, c, vrrp.Master, down150)
		for _, f := range frames {
			if want := f.src != "192.0.2.3"; f.asV2 != want {
				t.Errorf("advert from %s: ChecksumAsV2 %v, want %v", f.src, f.asV2, want)
			}
		}
		if len(frames) < 15 {
			t.Errorf("%d adverts heard, want about 17", len(frames))
		}
		if n := stA.Drops[vrrp.DropChecksum] + stB.Drops[vrrp.DropChecksum]; n != 0 {
			t.Errorf("A and B dropped %d adverts for their checksum, want 0", n)
		}
		if stC.Drops[vrrp.DropChecksum] == 0 {
			t.Error("C accepted A's VRRPv2-form checksums")
		}
	})
}
