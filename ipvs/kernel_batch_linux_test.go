package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// attrs parses nested netlink attributes into a map by type.
func attrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	list, err := nl.ParseRouteAttr(b)
	if err != nil {
		t.Fatalf("attributes: %v", err)
	}
	m := map[uint16][]byte{}
	for _, a := range list {
		m[a.Attr.Type&^unix.NLA_F_NESTED] = a.Value
	}
	return m
}

// TestBatchEncoding decodes what encode sends: the netlink and genetlink
// headers, and the attributes ip_vs.h defines, with moby/ipvs's byte
// orders (ports big-endian, the rest native).
func TestBatchEncoding(t *testing.T) {
	b := &batchSocket{family: 0x1234}
	svc := Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 53},
		Scheduler: SourceHashing, SchedFlags: FlagFallback, Persistence: 300 * time.Second, PersistenceMask: 24}
	d := Destination{DestinationKey: DestinationKey{netip.MustParseAddr("198.51.100.7"), 8053}, Forward: Route, Weight: 300, UpperThreshold: 9, LowerThreshold: 4}
	gue := Destination{DestinationKey: d.DestinationKey, Forward: Tunnel, Weight: 1, TunnelType: GUE, TunnelPort: 6080, TunnelChecksum: true}
	mixed := Destination{DestinationKey: DestinationKey{netip.MustParseAddr("2001:db8::7"), 80}, Forward: Tunnel, Weight: 2, TunnelType: GRE, TunnelChecksum: true}
	for _, tc := range []struct {
		c    Change
		cmd  uint8
		svc  map[uint16][]byte
		dest map[uint16][]byte
	}{
		{Change{Op: OpCreateService, Service: svc}, 1, map[uint16][]byte{
			1: nl.Uint16Attr(unix.AF_INET), 2: nl.Uint16Attr(unix.IPPROTO_UDP), 3: {192, 0, 2, 10}, 4: {0, 53},
			6: []byte("sh\x00"), 7: append(nl.Uint32Attr(svcFlagPersistent|svcFlagSched1), 0xff, 0xff, 0xff, 0xff),
			8: nl.Uint32Attr(300), 9: {255, 255, 255, 0}}, nil},
		{Change{Op: OpUpdateService, Service: Service{ServiceKey: ServiceKey{FWMark: 7, Family6: true}, Scheduler: RoundRobin}}, 2, map[uint16][]byte{
			1: nl.Uint16Attr(unix.AF_INET6), 5: nl.Uint32Attr(7), 6: []byte("rr\x00"), 7: {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
			8: nl.Uint32Attr(0), 9: nl.Uint32Attr(128)}, nil},
		{Change{Op: OpDeleteService, Service: svc}, 3, map[uint16][]byte{
			1: nl.Uint16Attr(unix.AF_INET), 2: nl.Uint16Attr(unix.IPPROTO_UDP), 3: {192, 0, 2, 10}, 4: {0, 53}}, nil},
		{Change{Op: OpCreateDestination, Service: svc, Dest: d}, 5, map[uint16][]byte{
			1: nl.Uint16Attr(unix.AF_INET), 2: nl.Uint16Attr(unix.IPPROTO_UDP), 3: {192, 0, 2, 10}, 4: {0, 53}},
			map[uint16][]byte{1: {198, 51, 100, 7}, 2: {0x1f, 0x75}, 3: nl.Uint32Attr(fwdRoute), 4: nl.Uint32Attr(300), 5: nl.Uint32Attr(9), 6: nl.Uint32Attr(4),
				11: nl.Uint16Attr(unix.AF_INET), 13: {0}, 14: {0, 0}, 15: nl.Uint16Attr(0)}},
		{Change{Op: OpUpdateDestination, Service: svc, Dest: d}, 6, nil, nil},
		{Change{Op: OpDeleteDestination, Service: svc, Dest: d}, 7, nil,
			map[uint16][]byte{1: {198, 51, 100, 7}, 2: {0x1f, 0x75}, 11: nl.Uint16Attr(unix.AF_INET)}},
		// GUE with port (big-endian) and checksum; an IPv6 real server of
		// an IPv4 service, sent with its own family.
		{Change{Op: OpCreateDestination, Service: svc, Dest: gue}, 5, nil,
			map[uint16][]byte{1: {198, 51, 100, 7}, 2: {0x1f, 0x75}, 3: nl.Uint32Attr(fwdTunnel), 4: nl.Uint32Attr(1), 5: nl.Uint32Attr(0), 6: nl.Uint32Attr(0),
				11: nl.Uint16Attr(unix.AF_INET), 13: {1}, 14: {0x17, 0xc0}, 15: nl.Uint16Attr(1)}},
		{Change{Op: OpUpdateDestination, Service: svc, Dest: mixed}, 6, nil,
			map[uint16][]byte{1: netip.MustParseAddr("2001:db8::7").AsSlice(), 2: {0, 80}, 3: nl.Uint32Attr(fwdTunnel), 4: nl.Uint32Attr(2), 5: nl.Uint32Attr(0), 6: nl.Uint32Attr(0),
				11: nl.Uint16Attr(unix.AF_INET6), 13: {2}, 14: {0, 0}, 15: nl.Uint16Attr(1)}},
		{Change{Op: OpDeleteDestination, Service: svc, Dest: mixed}, 7, nil,
			map[uint16][]byte{1: netip.MustParseAddr("2001:db8::7").AsSlice(), 2: {0, 80}, 11: nl.Uint16Attr(unix.AF_INET6)}},
	} {
		t.Run(tc.c.String(), func(t *testing.T) {
			raw, err := b.encode(nil, tc.c, 77, unix.NLM_F_ACK)
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := syscall.ParseNetlinkMessage(raw)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("%d messages, %v", len(msgs), err)
			}
			m := msgs[0]
			if m.Header.Type != 0x1234 || m.Header.Flags != unix.NLM_F_REQUEST|unix.NLM_F_ACK || m.Header.Seq != 77 || int(m.Header.Len) != len(raw) {
				t.Fatalf("header %+v (len %d)", m.Header, len(raw))
			}
			if m.Data[0] != tc.cmd || m.Data[1] != 1 {
				t.Fatalf("genl header % x, want cmd %d version 1", m.Data[:4], tc.cmd)
			}
			top := attrs(t, m.Data[4:])
			if tc.svc != nil {
				if got := attrs(t, top[1]); fmt.Sprint(got) != fmt.Sprint(tc.svc) {
					t.Errorf("service attributes\n%v\nwant\n%v", got, tc.svc)
				}
			}
			_, hasDest := top[2]
			if hasDest != (tc.c.Op >= OpCreateDestination) {
				t.Fatalf("destination attribute present: %t", hasDest)
			}
			if tc.dest != nil {
				if got := attrs(t, top[2]); fmt.Sprint(got) != fmt.Sprint(tc.dest) {
					t.Errorf("destination attributes\n%v\nwant\n%v", got, tc.dest)
				}
			}
		})
	}
	// What cannot be encoded is that change's error.
	if _, err := b.encode(nil, Change{Op: OpCreateDestination, Service: svc, Dest: Destination{DestinationKey: d.DestinationKey, Forward: Tunnel, TunnelType: GUE}}, 1, 0); err == nil {
		t.Fatal("GUE without a port encoded")
	}
}

// TestKernelBatch: a batch of creates (v4, v6, fwmark; each service
// followed by its destinations), then one of updates and deletes, read
// back identical through the backend and ipvsadm -Ln.
func TestKernelBatch(t *testing.T) {
	k := openKernel(t)
	table := roundTripTable()
	var creates []Change
	for _, vs := range table {
		creates = append(creates, Change{Op: OpCreateService, Service: vs.Service})
		for _, d := range vs.Destinations {
			creates = append(creates, Change{Op: OpCreateDestination, Service: vs.Service, Dest: d})
		}
	}
	mustBatch(t, k, creates)
	checkTable(t, k, table)

	table[0].Scheduler = LeastConnection
	table[0].Destinations[1].Weight = 42
	table[3].Destinations[0].Forward = Route
	table[5].Persistence = 0
	gone := table[6].Destinations[1]
	table[6].Destinations = table[6].Destinations[:1]
	deleted := table[1]
	mustBatch(t, k, []Change{
		{Op: OpUpdateService, Service: table[0].Service},
		{Op: OpUpdateDestination, Service: table[0].Service, Dest: table[0].Destinations[1]},
		{Op: OpUpdateDestination, Service: table[3].Service, Dest: table[3].Destinations[0]},
		{Op: OpUpdateService, Service: table[5].Service},
		{Op: OpDeleteDestination, Service: table[6].Service, Dest: gone},
		{Op: OpDeleteService, Service: deleted.Service},
	})
	checkTable(t, k, append(table[:1:1], table[2:]...))
}

func mustBatch(t *testing.T, k *Kernel, changes []Change) {
	t.Helper()
	for i, err := range k.Apply(context.Background(), changes) {
		if err != nil {
			t.Fatalf("change %d (%v): %v", i, changes[i], err)
		}
	}
}

// TestKernelBatchFailures: a failing change in the middle of a batch
// (a duplicate, a missing destination, two changes that cannot be
// encoded) fails alone, with the single methods' sentinel and wording; the
// destinations of a service that could not be created fail with
// ErrNotFound; deleting what is not there is ErrNotFound; a cancelled
// context sends nothing.
func TestKernelBatchFailures(t *testing.T) {
	k := openKernel(t)
	a := netip.MustParseAddr
	s1 := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a("203.0.113.40"), Port: 80}, Scheduler: RoundRobin}
	s2 := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a("203.0.113.41"), Port: 80}, Scheduler: RoundRobin}
	d := func(last byte, w int) Destination {
		return Destination{DestinationKey: DestinationKey{netip.AddrFrom4([4]byte{203, 0, 113, last}), 80}, Forward: Masquerade, Weight: w}
	}
	gre := Destination{DestinationKey: d(54, 0).DestinationKey, Forward: Tunnel, Weight: 1, TunnelType: GRE, TunnelChecksum: true}
	changes := []Change{
		{Op: OpCreateService, Service: s1},
		{Op: OpCreateDestination, Service: s1, Dest: d(50, 1)},
		{Op: OpCreateService, Service: s1}, // duplicate
		{Op: OpCreateDestination, Service: s1, Dest: d(51, 2)},
		{Op: OpDeleteDestination, Service: s1, Dest: d(59, 0)},                                        // not there
		{Op: OpCreateService, Service: Service{ServiceKey: s2.ServiceKey, Scheduler: Scheduler(200)}}, // cannot be encoded
		{Op: OpCreateDestination, Service: s2, Dest: d(52, 1)},                                        // its service is missing
		{Op: OpCreateDestination, Service: s1, Dest: Destination{DestinationKey: d(53, 0).DestinationKey, Forward: Tunnel, TunnelType: GUE}}, // no port: cannot be encoded
		{Op: OpCreateDestination, Service: s1, Dest: gre},
		{Op: OpUpdateDestination, Service: s1, Dest: d(50, 5)},
	}
	errs := k.Apply(context.Background(), changes)
	if len(errs) != len(changes) {
		t.Fatalf("%d errors for %d changes", len(errs), len(changes))
	}
	want := map[int]error{2: ErrExists, 4: ErrNotFound, 5: nil, 6: ErrNotFound, 7: nil}
	for i, err := range errs {
		sentinel, bad := want[i]
		switch {
		case !bad && err != nil:
			t.Errorf("change %d (%v): %v", i, changes[i], err)
		case bad && err == nil:
			t.Errorf("change %d (%v) did not fail", i, changes[i])
		case bad && sentinel != nil && !errors.Is(err, sentinel):
			t.Errorf("change %d (%v): %v, want %v", i, changes[i], err, sentinel)
		}
	}
	if want := "ipvs: create service tcp 203.0.113.40:80: "; !strings.HasPrefix(errs[2].Error(), want) {
		t.Errorf("error %q, want it to start with %q", errs[2], want)
	}
	if !errors.Is(errs[2], unix.EEXIST) {
		t.Errorf("errno lost: %v", errs[2])
	}
	checkTable(t, k, []VirtualServer{{Service: s1, Destinations: []Destination{d(50, 5), d(51, 2), gre}}})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i, err := range k.Apply(ctx, []Change{{Op: OpDeleteService, Service: s1}, {Op: OpCreateService, Service: s2}}) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: change %d: %v", i, err)
		}
	}
	checkTable(t, k, []VirtualServer{{Service: s1, Destinations: []Destination{d(50, 5), d(51, 2), gre}}})
}

// TestKernelBatchChunks: a batch of several chunks, with a failure in a
// later chunk, answers every change.
func TestKernelBatchChunks(t *testing.T) {
	k := openKernel(t)
	t.Logf("chunk: %d requests", k.batch.chunk)
	s := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: netip.MustParseAddr("2001:db8:2::1"), Port: 80}, Scheduler: WeightedRoundRobin}
	n := 3*k.batch.chunk + 7
	vs := VirtualServer{Service: s}
	changes := []Change{{Op: OpCreateService, Service: s}}
	for i := range n {
		d := Destination{DestinationKey: DestinationKey{netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 3, 14: byte(i >> 8), 15: byte(i)}), 8080}, Forward: Masquerade, Weight: 1 + i%100}
		vs.Destinations = append(vs.Destinations, d)
		changes = append(changes, Change{Op: OpCreateDestination, Service: s, Dest: d})
	}
	bad := 2*k.batch.chunk + 3
	changes = append(changes[:bad], append([]Change{changes[bad]}, changes[bad:]...)...) // a duplicate create there
	errs := k.Apply(context.Background(), changes)
	for i, err := range errs {
		if (i == bad+1) != (err != nil) {
			t.Errorf("change %d: %v", i, err)
		}
	}
	if !errors.Is(errs[bad+1], ErrExists) {
		t.Errorf("duplicate: %v", errs[bad+1])
	}
	checkTable(t, k, []VirtualServer{vs})
}

// TestKernelBatchAnswers: only a chunk's last request asks for an ACK, so
// a failure is known by its error alone: a failure as the last change of
// a batch, failures at the last request of one chunk and the first of
// the next, and a batch in which every change fails, each go to their
// change and no other.
func TestKernelBatchAnswers(t *testing.T) {
	k := openKernel(t)
	s := Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: netip.MustParseAddr("203.0.113.60"), Port: 53}, Scheduler: RoundRobin}
	d := func(i int) Destination {
		return Destination{DestinationKey: DestinationKey{netip.AddrFrom4([4]byte{198, 18, 60 + byte(i>>8), byte(i)}), 53}, Forward: Masquerade, Weight: 1}
	}
	check := func(what string, changes []Change, bad map[int]error) {
		t.Helper()
		errs := k.Apply(context.Background(), changes)
		if len(errs) != len(changes) {
			t.Fatalf("%s: %d errors for %d changes", what, len(errs), len(changes))
		}
		for i, err := range errs {
			want, isBad := bad[i]
			switch {
			case !isBad && err != nil:
				t.Errorf("%s: change %d (%v): %v", what, i, changes[i], err)
			case isBad && !errors.Is(err, want):
				t.Errorf("%s: change %d (%v): %v, want %v", what, i, changes[i], err, want)
			case isBad && !strings.HasPrefix(err.Error(), "ipvs: "+changes[i].String()+": "):
				t.Errorf("%s: change %d: %q does not name it", what, i, err)
			}
		}
	}

	// The last change of a batch (of one chunk) fails.
	create := []Change{{Op: OpCreateService, Service: s}, {Op: OpCreateDestination, Service: s, Dest: d(0)}, {Op: OpCreateDestination, Service: s, Dest: d(0)}}
	check("last fails", create, map[int]error{2: ErrExists})

	// Failures at a chunk's end and the next one's start: duplicates of
	// destination 0 there.
	n := k.batch.chunk
	var changes []Change
	want := []VirtualServer{{Service: s, Destinations: []Destination{d(0)}}}
	bad := map[int]error{}
	for i := range 2 * n {
		if i == n-1 || i == n {
			changes = append(changes, Change{Op: OpCreateDestination, Service: s, Dest: d(0)})
			bad[i] = ErrExists
			continue
		}
		changes = append(changes, Change{Op: OpCreateDestination, Service: s, Dest: d(1 + i)})
		want[0].Destinations = append(want[0].Destinations, d(1+i))
	}
	check("chunk edges", changes, bad)
	checkTable(t, k, want)

	// Every change fails: destinations of a service that is not there.
	missing := Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: netip.MustParseAddr("203.0.113.61"), Port: 53}, Scheduler: RoundRobin}
	changes, bad = nil, map[int]error{}
	for i := range n + 5 {
		changes = append(changes, Change{Op: OpUpdateDestination, Service: missing, Dest: d(i)})
		bad[i] = ErrNotFound
	}
	check("all fail", changes, bad)
	checkTable(t, k, want)
}
