package ipvs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
)

// TestTimeoutsCodec: timeoutAttrs encodes only the non-zero timeouts, in
// seconds; parseTimeouts reads a GET_CONFIG reply and refuses a short or
// incomplete one.
func TestTimeoutsCodec(t *testing.T) {
	encode := func(attrs []*nl.RtAttr) []byte {
		msg := genlHeader(ipvsCmdGetConfig).Serialize()
		for _, a := range attrs {
			msg = append(msg, a.Serialize()...)
		}
		return msg
	}
	attrs, err := parseAttrs(encode(timeoutAttrs(Timeouts{TCPFin: 7 * time.Second}))[4:])
	if err != nil || len(attrs) != 1 || attrs[0].typ != ipvsCmdAttrTimeoutTCPFin {
		t.Fatalf("one timeout encoded as %v, %v", attrs, err)
	}
	if v, _ := attrU32("", attrs[0]); v != 7 {
		t.Errorf("tcpfin 7s encoded as %d", v)
	}
	full := Timeouts{TCP: 3600 * time.Second, TCPFin: 30 * time.Second, UDP: MaxTimeout}
	got, err := parseTimeouts(encode(timeoutAttrs(full)))
	if err != nil || got != full {
		t.Errorf("round trip of %v: %v, %v", full, got, err)
	}
	for name, msg := range map[string][]byte{
		"no header":   {1, 2},
		"missing udp": encode(timeoutAttrs(Timeouts{TCP: time.Second, TCPFin: time.Second})),
		"short value": append(encode(timeoutAttrs(Timeouts{TCP: time.Second, TCPFin: time.Second})), 6, 0, ipvsCmdAttrTimeoutUDP, 0, 1, 2, 0, 0),
		"truncated":   encode(timeoutAttrs(full))[:20],
	} {
		if got, err := parseTimeouts(msg); err == nil {
			t.Errorf("%s: parsed as %v", name, got)
		}
	}
}

// TestKernelFlush: Flush removes services vigil did not create
// (ipvsadm's), and their destinations.
func TestKernelFlush(t *testing.T) {
	k := openKernel(t)
	ctx := context.Background()
	ipvsadm(t, "-A", "-t", "192.0.2.50:80", "-s", "rr")
	ipvsadm(t, "-a", "-t", "192.0.2.50:80", "-r", "198.51.100.5:80", "-m")
	ipvsadm(t, "-A", "-u", "[2001:db8::50]:53", "-s", "wlc")
	if got, err := k.Services(ctx); err != nil || len(got) != 2 {
		t.Fatalf("before Flush: %v, %v", got, err)
	}
	if err := k.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got, err := k.Services(ctx); err != nil || len(got) != 0 {
		t.Errorf("after Flush: %v, %v", got, err)
	}
	if out := ipvsadm(t, "-Ln"); strings.Contains(out, "192.0.2.50") || strings.Contains(out, "2001:db8::50") {
		t.Errorf("ipvsadm -Ln after Flush:\n%s", out)
	}
	k.Close()
	if err := k.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
}

// TestKernelTimeouts: SetTimeouts sets what ipvsadm -L --timeout then
// shows, a zero field keeps the kernel's value, Timeouts reads them
// back, and the originals are restored.
func TestKernelTimeouts(t *testing.T) {
	k := openKernel(t)
	ctx := context.Background()
	orig, err := k.Timeouts(ctx)
	if err != nil {
		t.Fatalf("Timeouts: %v", err)
	}
	if got := strings.TrimSpace(ipvsadm(t, "-L", "--timeout")); got != orig.String() {
		t.Errorf("ipvsadm -L --timeout = %q, Timeouts read %q", got, orig)
	}
	t.Cleanup(func() {
		k2, err := Open(KernelConfig{})
		if err != nil {
			t.Errorf("Open: %v", err)
			return
		}
		defer k2.Close()
		if err := k2.SetTimeouts(ctx, orig); err != nil {
			t.Errorf("restore %v: %v", orig, err)
		}
		if got := strings.TrimSpace(ipvsadm(t, "-L", "--timeout")); got != orig.String() {
			t.Errorf("after restoring: ipvsadm -L --timeout = %q, want %q", got, orig)
		}
	})
	set := Timeouts{TCP: 1234 * time.Second, UDP: 56 * time.Second}
	if err := k.SetTimeouts(ctx, set); err != nil {
		t.Fatalf("SetTimeouts %v: %v", set, err)
	}
	want := Timeouts{TCP: set.TCP, TCPFin: orig.TCPFin, UDP: set.UDP}
	if got := strings.TrimSpace(ipvsadm(t, "-L", "--timeout")); got != want.String() {
		t.Errorf("ipvsadm -L --timeout = %q, want %q", got, want)
	}
	if got, err := k.Timeouts(ctx); err != nil || got != want {
		t.Errorf("Timeouts = %v, %v; want %v", got, err, want)
	}
	if err := k.SetTimeouts(ctx, Timeouts{UDP: -time.Second}); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative UDP: %v", err)
	}
}
