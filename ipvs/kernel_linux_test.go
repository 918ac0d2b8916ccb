package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Tests of the kernel backend. The pure mapping tests and the "no IPVS"
// tests run anywhere; the rest need a kernel with IPVS and run inside the
// VM of tools/ipvsvm (go test's tier 3), gated by requireIPVS.

// ipvsPresent reports whether the IPVS generic-netlink family exists.
func ipvsPresent() error {
	_, err := vnl.GenlFamilyGet("IPVS")
	return err
}

// requireIPVS skips when the kernel has no IPVS or the test is not root,
// unless IPVS_REQUIRED=1 (set inside the VM): then it fails.
func requireIPVS(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root"
	} else if err := ipvsPresent(); err != nil {
		why = fmt.Sprintf("the kernel has no IPVS (%v)", err)
	}
	if why == "" {
		return
	}
	if os.Getenv("IPVS_REQUIRED") == "1" {
		t.Fatalf("IPVS_REQUIRED=1 but %s", why)
	}
	t.Skipf("%s; tools/ipvsvm/run --pkg ./ipvs runs this in a VM", why)
}

// ---------------------------------------------------------------- mapping

func v4mask(plen int) uint32 { return binary.NativeEndian.Uint32(net.CIDRMask(plen, 32)) }

var a4 = netip.MustParseAddr("192.0.2.10")
var a6 = netip.MustParseAddr("2001:db8::10")

func TestServiceMapping(t *testing.T) {
	tests := []struct {
		name string
		svc  Service
		moby mobyipvs.Service
	}{
		{"v4 tcp rr", Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a4, Port: 80}, Scheduler: RoundRobin},
			mobyipvs.Service{AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Address: a4.AsSlice(), Port: 80, SchedName: "rr", Netmask: 0xffffffff}},
		{"v4 persistent /24", Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: a4, Port: 53}, Scheduler: WeightedLeastConnection, Persistence: 300 * time.Second, PersistenceMask: 24},
			mobyipvs.Service{AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_UDP, Address: a4.AsSlice(), Port: 53, SchedName: "wlc", Flags: 0x1, Timeout: 300, Netmask: v4mask(24)}},
		{"v6 sh fallback port ops", Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: a6, Port: 53}, Scheduler: SourceHashing, SchedFlags: FlagFallback | FlagPort, OnePacket: true},
			mobyipvs.Service{AddressFamily: unix.AF_INET6, Protocol: unix.IPPROTO_UDP, Address: a6.AsSlice(), Port: 53, SchedName: "sh", Flags: 0x4 | 0x8 | 0x10, Netmask: 128}},
		{"v6 persistent /64", Service{ServiceKey: ServiceKey{Protocol: SCTP, Addr: a6, Port: 3868}, Scheduler: MaglevHashing, SchedFlags: FlagPort, Persistence: time.Minute, PersistenceMask: 64},
			mobyipvs.Service{AddressFamily: unix.AF_INET6, Protocol: unix.IPPROTO_SCTP, Address: a6.AsSlice(), Port: 3868, SchedName: "mh", Flags: 0x1 | 0x10, Timeout: 60, Netmask: 64}},
		{"fwmark v4", Service{ServiceKey: ServiceKey{FWMark: 7}, Scheduler: WeightedOverflow},
			mobyipvs.Service{AddressFamily: unix.AF_INET, FWMark: 7, SchedName: "ovf", Netmask: 0xffffffff}},
		{"fwmark v6", Service{ServiceKey: ServiceKey{FWMark: 8, Family6: true}, Scheduler: WeightedFailover, Persistence: time.Second},
			mobyipvs.Service{AddressFamily: unix.AF_INET6, FWMark: 8, SchedName: "fo", Flags: 0x1, Timeout: 1, Netmask: 128}},
		{"v4 port 0 mask /0", Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a4}, Scheduler: LocalityLeastConnectionRepl, Persistence: time.Hour, PersistenceMask: 0},
			mobyipvs.Service{AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Address: a4.AsSlice(), SchedName: "lblcr", Flags: 0x1, Timeout: 3600, Netmask: 0xffffffff}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := serviceToMoby(tc.svc)
			if err != nil {
				t.Fatalf("serviceToMoby: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.moby) {
				t.Errorf("serviceToMoby:\n got %+v\nwant %+v", *got, tc.moby)
			}
			// What the kernel returns: the hashed flag set.
			back := tc.moby
			back.Flags |= 0x2
			st, err := serviceFromMoby(&back)
			if err != nil {
				t.Fatalf("serviceFromMoby: %v", err)
			}
			if st.Service != tc.svc.Normalize() {
				t.Errorf("serviceFromMoby:\n got %+v\nwant %+v", st.Service, tc.svc)
			}
		})
	}
}

func TestServiceMappingNormalizes(t *testing.T) {
	// The default mask (0) reads back as the full length, as Normalize says.
	for _, s := range []Service{
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: a4, Port: 80}, Scheduler: RoundRobin, PersistenceMask: 0},
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: a6, Port: 80}, Scheduler: RoundRobin, PersistenceMask: 0},
	} {
		m, err := serviceToMoby(s)
		if err != nil {
			t.Fatal(err)
		}
		st, err := serviceFromMoby(m)
		if err != nil {
			t.Fatal(err)
		}
		if st.Service != s.Normalize() {
			t.Errorf("%v: read back as %+v, want %+v", s.ServiceKey, st.Service, s.Normalize())
		}
	}
}

func TestServiceMappingRejects(t *testing.T) {
	base := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a4, Port: 80}, Scheduler: RoundRobin}
	tests := []struct {
		name string
		mod  func(*Service)
	}{
		{"no scheduler", func(s *Service) { s.Scheduler = 0 }},
		{"bad scheduler", func(s *Service) { s.Scheduler = 99 }},
		{"bad protocol", func(s *Service) { s.Protocol = 0 }},
		{"no address", func(s *Service) { s.Addr = netip.Addr{} }},
		{"zoned address", func(s *Service) { s.Addr = netip.MustParseAddr("fe80::1%eth0") }},
		{"mapped address", func(s *Service) { s.Addr = netip.MustParseAddr("::ffff:192.0.2.1") }},
		{"fwmark with address", func(s *Service) { s.FWMark = 1 }},
		{"fractional persistence", func(s *Service) { s.Persistence = 1500 * time.Millisecond }},
		{"sub-second persistence", func(s *Service) { s.Persistence = time.Millisecond }},
		{"negative persistence", func(s *Service) { s.Persistence = -time.Second }},
		{"v4 mask /33", func(s *Service) { s.PersistenceMask = 33 }},
		{"v4 mask -1", func(s *Service) { s.PersistenceMask = -1 }},
		{"v6 mask /129", func(s *Service) { s.Addr = a6; s.PersistenceMask = 129 }},
		{"bad flags", func(s *Service) { s.SchedFlags = 4 }},
	}
	for _, tc := range tests {
		s := base
		tc.mod(&s)
		if m, err := serviceToMoby(s); err == nil {
			t.Errorf("%s: serviceToMoby(%+v) = %+v, want an error", tc.name, s, m)
		}
	}
}

func TestServiceFromMobyRejects(t *testing.T) {
	for name, m := range map[string]mobyipvs.Service{
		"unknown family":     {AddressFamily: 99, FWMark: 1, SchedName: "rr"},
		"unknown protocol":   {AddressFamily: unix.AF_INET, Protocol: 99, Address: a4.AsSlice(), SchedName: "rr", Netmask: 0xffffffff},
		"unknown scheduler":  {AddressFamily: unix.AF_INET, FWMark: 1, SchedName: "twos", Netmask: 0xffffffff},
		"non-contiguous":     {AddressFamily: unix.AF_INET, FWMark: 1, SchedName: "rr", Netmask: binary.NativeEndian.Uint32([]byte{255, 0, 255, 0})},
		"v6 mask 200":        {AddressFamily: unix.AF_INET6, FWMark: 1, SchedName: "rr", Netmask: 200},
		"family and address": {AddressFamily: unix.AF_INET6, Protocol: unix.IPPROTO_TCP, Address: a4.AsSlice(), SchedName: "rr", Netmask: 128},
	} {
		if s, err := serviceFromMoby(&m); err == nil {
			t.Errorf("%s: serviceFromMoby = %+v, want an error", name, s)
		}
	}
}

func TestDestinationMapping(t *testing.T) {
	svc4 := ServiceKey{Protocol: TCP, Addr: a4, Port: 80}
	svc6 := ServiceKey{FWMark: 3, Family6: true}
	r4 := netip.MustParseAddr("192.0.2.21")
	r6 := netip.MustParseAddr("2001:db8::21")
	tests := []struct {
		name string
		svc  ServiceKey
		d    Destination
		kd   kernelDest
	}{
		{"masq", svc4, Destination{DestinationKey: DestinationKey{r4, 8080}, Forward: Masquerade, Weight: 1},
			kernelDest{Addr: r4, Family: unix.AF_INET, Port: 8080, Weight: 1, FwdMethod: fwdMasq}},
		{"route w0 thresholds", svc4, Destination{DestinationKey: DestinationKey{r4, 80}, Forward: Route, Weight: 0, UpperThreshold: 100, LowerThreshold: 50},
			kernelDest{Addr: r4, Family: unix.AF_INET, Port: 80, FwdMethod: fwdRoute, UThresh: 100, LThresh: 50}},
		{"tunnel v6 max weight", svc6, Destination{DestinationKey: DestinationKey{r6, 0}, Forward: Tunnel, Weight: 65535},
			kernelDest{Addr: r6, Family: unix.AF_INET6, Weight: 65535, FwdMethod: fwdTunnel}},
		{"gue port checksum", svc4, Destination{DestinationKey: DestinationKey{r4, 80}, Forward: Tunnel, Weight: 2, TunnelType: GUE, TunnelPort: 6080, TunnelChecksum: true},
			kernelDest{Addr: r4, Family: unix.AF_INET, Port: 80, Weight: 2, FwdMethod: fwdTunnel, TunType: tunTypeGUE, TunPort: 6080, TunFlags: tunFlagCsum}},
		{"gre checksum", svc6, Destination{DestinationKey: DestinationKey{r6, 0}, Forward: Tunnel, Weight: 3, TunnelType: GRE, TunnelChecksum: true},
			kernelDest{Addr: r6, Family: unix.AF_INET6, Weight: 3, FwdMethod: fwdTunnel, TunType: tunTypeGRE, TunFlags: tunFlagCsum}},
		{"v4 real server of a v6 service", svc6, Destination{DestinationKey: DestinationKey{r4, 0}, Forward: Tunnel, Weight: 1},
			kernelDest{Addr: r4, Family: unix.AF_INET, Weight: 1, FwdMethod: fwdTunnel}},
		{"v6 real server of a v4 service, gre", svc4, Destination{DestinationKey: DestinationKey{r6, 80}, Forward: Tunnel, Weight: 1, TunnelType: GRE},
			kernelDest{Addr: r6, Family: unix.AF_INET6, Port: 80, Weight: 1, FwdMethod: fwdTunnel, TunType: tunTypeGRE}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := destinationToKernel(tc.svc, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if *got != tc.kd {
				t.Errorf("destinationToKernel:\n got %+v\nwant %+v", *got, tc.kd)
			}
			// What the kernel returns: a 16-byte address, counters.
			back := tc.kd
			back.Addr = netip.AddrFrom16([16]byte(append(tc.kd.Addr.AsSlice(), make([]byte, 16-len(tc.kd.Addr.AsSlice()))...)))
			back.ActiveConns, back.InactiveConns = 4, 5
			back.Stats = Stats{Connections: 9, BytesOut: 1 << 40}
			ds, err := destinationFromKernel(&back, tc.svc.Is6())
			if err != nil {
				t.Fatal(err)
			}
			if ds.Destination != tc.d || ds.ActiveConns != 4 || ds.InactiveConns != 5 || ds.Stats != back.Stats {
				t.Errorf("destinationFromKernel: got %+v, want %+v with conns 4/5", ds, tc.d)
			}
		})
	}
	// The kernel's local-node method reads as Masquerade.
	ds, err := destinationFromKernel(&kernelDest{Addr: r4, Port: 1, Family: unix.AF_INET, FwdMethod: fwdLocalNode}, false)
	if err != nil || ds.Forward != Masquerade {
		t.Errorf("local node: got %v, %v; want masq", ds.Forward, err)
	}
	// Without a family attribute (old kernels), the service's.
	if ds, err := destinationFromKernel(&kernelDest{Addr: netip.AddrFrom16([16]byte{192, 0, 2, 1}), FwdMethod: fwdRoute}, false); err != nil || ds.Addr != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("no family: %+v, %v", ds, err)
	}
	// Tunnel settings of a destination that does not tunnel are not read;
	// remote checksum is ignored.
	if ds, err := destinationFromKernel(&kernelDest{Addr: r4, Family: unix.AF_INET, FwdMethod: fwdRoute, TunType: tunTypeGUE, TunPort: 9, TunFlags: tunFlagCsum}, false); err != nil || ds.Destination != (Destination{DestinationKey: DestinationKey{Addr: r4}, Forward: Route}) {
		t.Errorf("route with tunnel settings: %+v, %v", ds, err)
	}
	if ds, err := destinationFromKernel(&kernelDest{Addr: r4, Family: unix.AF_INET, FwdMethod: fwdTunnel, TunType: tunTypeGUE, TunPort: 9, TunFlags: tunFlagRemCsum}, false); err != nil || ds.TunnelChecksum || ds.TunnelPort != 9 {
		t.Errorf("gue remcsum: %+v, %v", ds, err)
	}
	for name, kd := range map[string]kernelDest{
		"bypass":           {Addr: r4, Family: unix.AF_INET, FwdMethod: 4},
		"tunnel type 3":    {Addr: r4, Family: unix.AF_INET, FwdMethod: fwdTunnel, TunType: 3},
		"weight 65536":     {Addr: r4, Family: unix.AF_INET, FwdMethod: fwdRoute, Weight: 65536},
		"family 99":        {Addr: r4, Family: 99, FwdMethod: fwdRoute},
		"v6 address as v4": {Addr: r6, Family: unix.AF_INET, FwdMethod: fwdRoute},
		"v4 address as v6": {Addr: r4, Family: unix.AF_INET6, FwdMethod: fwdRoute},
	} {
		if ds, err := destinationFromKernel(&kd, false); err == nil {
			t.Errorf("%s: got %+v, want an error", name, ds)
		}
	}
}

func TestDestinationMappingRejects(t *testing.T) {
	svc := ServiceKey{Protocol: TCP, Addr: a4, Port: 80}
	r := DestinationKey{netip.MustParseAddr("192.0.2.21"), 80}
	for name, d := range map[string]Destination{
		"gue without port":    {DestinationKey: r, Forward: Tunnel, TunnelType: GUE},
		"gre with port":       {DestinationKey: r, Forward: Tunnel, TunnelType: GRE, TunnelPort: 1},
		"ipip checksum":       {DestinationKey: r, Forward: Tunnel, TunnelChecksum: true},
		"tunnel type 3":       {DestinationKey: r, Forward: Tunnel, TunnelType: 3},
		"gre on route":        {DestinationKey: r, Forward: Route, TunnelType: GRE},
		"other family, masq":  {DestinationKey: DestinationKey{netip.MustParseAddr("2001:db8::1"), 80}, Forward: Masquerade},
		"other family, route": {DestinationKey: DestinationKey{netip.MustParseAddr("2001:db8::1"), 80}, Forward: Route},
		"no forward":          {DestinationKey: r},
		"weight -1":           {DestinationKey: r, Forward: Route, Weight: -1},
		"weight 65536":        {DestinationKey: r, Forward: Route, Weight: 65536},
		"no address":          {Forward: Route},
		"mapped address":      {DestinationKey: DestinationKey{netip.MustParseAddr("::ffff:192.0.2.1"), 80}, Forward: Route},
	} {
		if _, m, err := destinationToKernel(svc, d); err == nil {
			t.Errorf("%s: got %+v, want an error", name, m)
		}
	}
}

func TestChangeErr(t *testing.T) {
	s4 := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a4, Port: 80}}
	r4 := DestinationKey{netip.MustParseAddr("192.0.2.21"), 80}
	r6 := DestinationKey{netip.MustParseAddr("2001:db8::21"), 80}
	gue := Destination{DestinationKey: r4, Forward: Tunnel, TunnelType: GUE, TunnelPort: 6080}
	mixed := Destination{DestinationKey: r6, Forward: Tunnel}
	plain := Destination{DestinationKey: r4, Forward: Tunnel}
	for _, tc := range []struct {
		c     Change
		errno syscall.Errno
		want  error
		field string
	}{
		{Change{Op: OpCreateDestination, Service: s4, Dest: gue}, unix.EINVAL, ErrUnsupported, "TunnelType gue"},
		{Change{Op: OpUpdateDestination, Service: s4, Dest: gue}, unix.EOPNOTSUPP, ErrUnsupported, "TunnelType gue"},
		{Change{Op: OpCreateDestination, Service: s4, Dest: mixed}, unix.EAFNOSUPPORT, ErrUnsupported, "Addr"},
		{Change{Op: OpCreateDestination, Service: s4, Dest: gue}, unix.EEXIST, ErrExists, ""},
		{Change{Op: OpCreateDestination, Service: s4, Dest: plain}, unix.EINVAL, unix.EINVAL, ""},
		{Change{Op: OpDeleteDestination, Service: s4, Dest: gue}, unix.ENOENT, ErrNotFound, ""},
	} {
		err := changeErr(tc.c, tc.errno)
		if !errors.Is(err, tc.want) || !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("changeErr(%v, %v) = %v, want %v naming %q", tc.c, tc.errno, err, tc.want, tc.field)
		}
		if tc.want == unix.EINVAL && errors.Is(err, ErrUnsupported) {
			t.Errorf("changeErr(%v, EINVAL) = %v: plain IPIP is not unsupported", tc.c, err)
		}
	}
}

func TestKernelErr(t *testing.T) {
	tests := []struct {
		err    error
		svcSet bool
		want   error
	}{
		{syscall.ESRCH, false, ErrNotFound},
		{syscall.ENOENT, false, ErrNotFound},
		{syscall.ENOENT, true, ErrUnsupported},
		{syscall.EEXIST, true, ErrExists},
		{syscall.EEXIST, false, ErrExists},
	}
	for _, tc := range tests {
		got := kernelErr(tc.err, tc.svcSet)
		if !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("kernelErr(%v, %t) = %v, want %v wrapping %v", tc.err, tc.svcSet, got, tc.want, tc.err)
		}
	}
	if got := kernelErr(syscall.EINVAL, false); !errors.Is(got, syscall.EINVAL) || errors.Is(got, ErrNotFound) {
		t.Errorf("kernelErr(EINVAL) = %v", got)
	}
	if kernelErr(nil, true) != nil {
		t.Error("kernelErr(nil) != nil")
	}
}

// ------------------------------------------------------------- no IPVS

// TestOpenWithoutIPVS: on a kernel without IPVS (this project's CI host),
// Open fails with ErrNoIPVS, every time, and never hands out a handle.
func TestOpenWithoutIPVS(t *testing.T) {
	if ipvsPresent() == nil {
		t.Skip("the kernel has IPVS")
	}
	for i := 0; i < 2; i++ {
		k, err := Open(KernelConfig{})
		if !errors.Is(err, ErrNoIPVS) || k != nil {
			t.Fatalf("Open #%d = %v, %v; want nil, ErrNoIPVS", i+1, k, err)
		}
		t.Logf("Open: %v", err)
	}
}

// inFreshNetns runs f with the path of a new network namespace, on a
// locked thread that is in that namespace while f runs.
func inFreshNetns(t *testing.T, f func(path string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			t.Errorf("netns.Get: %v", err)
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			runtime.UnlockOSThread()
			t.Errorf("netns.New: %v", err)
			return
		}
		defer ns.Close()
		defer func() {
			// Leave the thread locked (it then ends with this goroutine)
			// if it cannot go back.
			if err := netns.Set(orig); err != nil {
				t.Errorf("back to the original namespace: %v", err)
				return
			}
			runtime.UnlockOSThread()
		}()
		f(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	}()
	<-done
}

func TestOpenWithoutIPVSInNetns(t *testing.T) {
	if ipvsPresent() == nil {
		t.Skip("the kernel has IPVS")
	}
	inFreshNetns(t, func(path string) {
		k, err := Open(KernelConfig{Netns: path})
		if !errors.Is(err, ErrNoIPVS) || k != nil {
			t.Errorf("Open(%s) = %v, %v; want nil, ErrNoIPVS", path, k, err)
		}
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the namespace", err)
		}
	})
}

func TestOpenBadNetns(t *testing.T) {
	k, err := Open(KernelConfig{Netns: "/nonexistent/netns"})
	if err == nil || k != nil || !strings.Contains(err.Error(), "/nonexistent/netns") {
		t.Fatalf("Open = %v, %v; want an error naming the path", k, err)
	}
}

// -------------------------------------------------------- real kernel

// openKernel opens the kernel backend and empties the table (with
// ipvsadm, which the tests use as their witness).
func openKernel(t *testing.T) *Kernel {
	t.Helper()
	requireIPVS(t)
	needTool(t, "ipvsadm", "ipvsadm")
	k, err := Open(KernelConfig{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	ipvsadm(t, "-C")
	return k
}

// needTool skips t when the program name is not installed (Debian
// package pkg), naming both, unless VIGIL_REQUIRE_NETNS=1 or
// IPVS_REQUIRED=1: then it fails t.
func needTool(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	why := fmt.Sprintf("%s is not installed (Debian package %s: apt-get install -y %s)", name, pkg, pkg)
	for _, v := range []string{"VIGIL_REQUIRE_NETNS", "IPVS_REQUIRED"} {
		if os.Getenv(v) == "1" {
			t.Fatalf("%s, and %s=1", why, v)
			return
		}
	}
	t.Skip(why)
}

// ipvsadm runs ipvsadm (the independent witness) and returns its output;
// it skips t without ipvsadm (needTool).
func ipvsadm(t *testing.T, args ...string) string {
	t.Helper()
	needTool(t, "ipvsadm", "ipvsadm")
	out, err := exec.Command("ipvsadm", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestProbeUnresolvedFamily: when moby/ipvs resolved the family while
// IPVS was missing (here: on a kernel without IPVS, in a child process so
// that this process's moby/ipvs stays untouched), its handle talks to
// family 0, which the kernel only acknowledges; probe reports that as
// ErrStaleFamily instead of letting every call "succeed".
func TestProbeUnresolvedFamily(t *testing.T) {
	if os.Getenv("VIGIL_IPVS_PROBE_CHILD") == "1" {
		h, err := mobyipvs.New("")
		if err != nil {
			t.Fatalf("mobyipvs.New: %v", err)
		}
		defer h.Close()
		// moby/ipvs itself reports success for a write that did nothing.
		if err := h.NewService(&mobyipvs.Service{AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Address: a4.AsSlice(), Port: 80, SchedName: "rr", Netmask: 0xffffffff}); err != nil {
			t.Logf("NewService: %v", err)
		} else {
			t.Logf("NewService with an unresolved family: nil (nothing was created)")
		}
		err = probe(h)
		if !errors.Is(err, ErrStaleFamily) {
			t.Fatalf("probe = %v, want ErrStaleFamily", err)
		}
		t.Logf("probe: %v", err)
		return
	}
	if ipvsPresent() == nil {
		t.Skip("the kernel has IPVS: moby/ipvs would resolve the family")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProbeUnresolvedFamily$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_IPVS_PROBE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child (moby/ipvs's logrus lines are its own):\n%s", out)
}

// skipRecorder is a testing.TB that records Skip and Fatalf instead of
// ending the test.
type skipRecorder struct {
	testing.TB
	skipped, failed string
}

func (r *skipRecorder) Helper()                           {}
func (r *skipRecorder) Skip(args ...any)                  { r.skipped = fmt.Sprint(args...) }
func (r *skipRecorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// TestNeedTool: a missing program skips naming it and its package, and
// fails with VIGIL_REQUIRE_NETNS=1 or IPVS_REQUIRED=1.
func TestNeedTool(t *testing.T) {
	const name = "vigil-no-such-program"
	for _, tc := range []struct{ env, fail string }{
		{"", ""},
		{"VIGIL_REQUIRE_NETNS", "VIGIL_REQUIRE_NETNS=1"},
		{"IPVS_REQUIRED", "IPVS_REQUIRED=1"},
	} {
		t.Setenv("VIGIL_REQUIRE_NETNS", "")
		t.Setenv("IPVS_REQUIRED", "")
		if tc.env != "" {
			t.Setenv(tc.env, "1")
		}
		r := &skipRecorder{TB: t}
		needTool(r, name, "some-package")
		msg := r.skipped + r.failed
		if !strings.Contains(msg, name) || !strings.Contains(msg, "apt-get install -y some-package") {
			t.Errorf("env %q: message %q does not name the program and its package", tc.env, msg)
		}
		if (r.failed != "") != (tc.fail != "") || !strings.Contains(r.failed, tc.fail) {
			t.Errorf("env %q: skipped %q, failed %q", tc.env, r.skipped, r.failed)
		}
	}
	r := &skipRecorder{TB: t}
	needTool(r, "sh", "dash")
	if r.skipped != "" || r.failed != "" {
		t.Errorf("sh is installed: skipped %q, failed %q", r.skipped, r.failed)
	}
}
