//go:build linux

package benchkit

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseAddrEvents(t *testing.T) {
	out := "[2026-11-27T16:04:54.164596] 3: eth0    inet 192.0.2.100/24 scope global secondary eth0\n" +
		"       valid_lft forever preferred_lft forever\n" +
		"[2026-11-27T16:04:54.169672] Deleted 1: lo    inet 198.51.100.2/32 scope global lo\n" +
		"[2026-11-27T16:04:55.000001] 3: eth0    inet 192.0.2.10" // incomplete line: ignored
	evs := parseAddrEvents(out)
	if len(evs) != 2 {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
	want := time.Date(2026, 11, 27, 16, 4, 54, 164596000, time.Local)
	if e := evs[0]; !e.Time.Equal(want) || e.Deleted || e.Link != "eth0" || e.Prefix != netip.MustParsePrefix("192.0.2.100/24") {
		t.Errorf("event 0: %+v", e)
	}
	if e := evs[1]; !e.Deleted || e.Link != "lo" || e.Prefix != netip.MustParsePrefix("198.51.100.2/32") {
		t.Errorf("event 1: %+v", e)
	}
}

func TestDecode(t *testing.T) {
	// Gratuitous ARP for 192.0.2.100 from 02:00:00:00:01:02.
	garp := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0x01, 0x02, 0x08, 0x06,
		0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0x01, 0x02, 192, 0, 2, 100,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 0, 2, 100,
	}
	var f Frame
	decode(garp, &f)
	vip := netip.MustParseAddr("192.0.2.100")
	if !f.IsARP || f.ARPOp != 1 || f.ARPSender != vip || f.ARPTarget != vip || f.SrcMAC.String() != "02:00:00:00:01:02" {
		t.Errorf("GARP: %+v", f)
	}
	// VRRPv3 advert, VRID 51, priority 150, 10 cs, from 192.0.2.1.
	adv := []byte{
		0x01, 0x00, 0x5e, 0, 0, 0x12, 0x02, 0, 0, 0, 0x01, 0x01, 0x08, 0x00,
		0x45, 0xc0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18,
		0x31, 51, 150, 1, 0x00, 0x0a, 0, 0, 192, 0, 2, 100,
	}
	f = Frame{}
	decode(adv, &f)
	if !f.IsVRRP || f.VRRPVersion != 3 || f.VRID != 51 || f.Priority != 150 || f.AdvertIntervalCS != 10 ||
		f.SrcIP != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("advert: %+v", f)
	}
}

// TestDecodeIPv6 reads keepalived's IPv6 capture (vrrp/testdata): its
// adverts from the link-local addresses and its unsolicited NAs.
func TestDecodeIPv6(t *testing.T) {
	vip := netip.MustParseAddr("2001:db8::100")
	ka2 := netip.MustParseAddr("fe80::ff:fe00:102")
	var adverts, nas int
	var firstAdvert, firstNA time.Time
	err := ReadFrames("../../../vrrp/testdata/d-v3-ipv6.pcap", func(f *Frame) {
		switch {
		case f.IsVRRP && f.SrcIP == ka2 && f.Priority == 100:
			if f.VRRPVersion != 3 || f.VRID != 53 || f.AdvertIntervalCS != 100 {
				t.Errorf("advert: %+v", f)
			}
			if adverts++; adverts == 1 {
				firstAdvert = f.Time
			}
		case f.Announces(vip) && f.SrcMAC.String() == "02:00:00:00:01:02":
			if nas++; nas == 1 {
				firstNA = f.Time
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// ka2's takeover: its first advert, then 5 NAs per VIP 0.1–0.2 ms later.
	if adverts == 0 || nas < 5 || !firstNA.After(firstAdvert) || firstNA.Sub(firstAdvert) > time.Millisecond {
		t.Errorf("%d adverts (first %v), %d NAs for %v (first %v)", adverts, firstAdvert, nas, vip, firstNA)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]time.Duration{4, 1, 3, 2})
	if s != (Summary{N: 4, Min: 1, Median: 2, Max: 4}) { // (2+3)/2 truncated
		t.Errorf("even: %+v", s)
	}
	if s := Summarize([]time.Duration{5, 1, 3}); s.Median != 3 {
		t.Errorf("odd: %+v", s)
	}
	if s := Summarize(nil); s.N != 0 || s.String() != "-" {
		t.Errorf("empty: %+v", s)
	}
}

func TestParseEvents(t *testing.T) {
	out := `{"time":"2026-11-27T16:00:00.123456789Z","instance":"VI_51","from":"BACKUP","to":"MASTER","reason":"master-down","priority":100}` + "\n" +
		`{"time":"2026-11-27T16:00:01Z","instance":"VI_51","from":"MASTER","to":"BACKUP"` // incomplete
	evs := parseEvents(out)
	if len(evs) != 1 || evs[0].To != "MASTER" || countTo(evs, "MASTER") != 1 || evs[0].Time.Nanosecond() != 123456789 {
		t.Errorf("%+v", evs)
	}
}

func TestLogLines(t *testing.T) {
	var l Log
	l.Write([]byte("one\ntw"))
	before := time.Now()
	l.Write([]byte("o\nthree"))
	lines := l.Lines()
	if len(lines) != 2 || lines[0].Text != "one" || lines[1].Text != "two" {
		t.Fatalf("lines: %+v", lines)
	}
	// A line's time is that of the write that completed it.
	if lines[0].Time.After(before) || lines[1].Time.Before(before) {
		t.Errorf("times: %v, %v around %v", lines[0].Time, lines[1].Time, before)
	}
}

// AwaitLines counts matching complete lines across writes, each line
// once (split lines included), and returns when n have matched; it
// times out when fewer have, and returns when stop says so.
func TestAwaitLines(t *testing.T) {
	var l Log
	looked := 0
	match := func(line string) bool { looked++; return strings.HasPrefix(line, "M ") }
	never := func() bool { return false }
	done := make(chan error, 1)
	go func() { done <- l.AwaitLines(context.Background(), 5*time.Second, "3 x M", 3, match, never) }()
	l.Write([]byte("M 1\nB 2\nM"))
	l.Write([]byte(" 3\n"))
	select {
	case err := <-done:
		t.Fatalf("returned with 2 of 3 matching: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	l.Write([]byte("M 4\npartial M"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if looked != 4 {
		t.Errorf("match saw %d lines, want each of the 4 complete lines once", looked)
	}
	err := l.AwaitLines(context.Background(), 10*time.Millisecond, "9 x M", 9, match, never)
	if err == nil || !strings.Contains(err.Error(), "9 x M: not within") {
		t.Errorf("9 of 3: %v", err)
	}
	if err := l.AwaitLines(context.Background(), 5*time.Second, "9 x M", 9, match, func() bool { return true }); err != nil {
		t.Errorf("stopped: %v", err)
	}
}
