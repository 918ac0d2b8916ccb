package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vigil-ha/vigil/internal/hostwire"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

// InstanceConfig is one VRRP instance (keepalived's vrrp_instance) on a Host.
type InstanceConfig struct {
	// VRRP is the router's configuration: name, VRID, version, priority,
	// interval, VIPs, unicast peers, authentication, preemption.
	VRRP vrrp.Config
	// Interface is the interface the instance runs on.
	Interface string
	// UnicastSrc is the source of adverts, unicast or multicast
	// (keepalived unicast_src_ip, mcast_src_ip); the default is the
	// interface's primary address.
	UnicastSrc netip.Addr
	// UnicastTTL is the TTL / hop limit of unicast adverts (keepalived
	// unicast_ttl), 1..255; 0 means 255. Only with VRRP.Peers. A unicast
	// instance accepts its peers' adverts whatever their TTL.
	UnicastTTL int
	// UseVMAC runs the instance on a macvlan carrying the virtual MAC
	// 00:00:5e:00:01:{VRID} (…:02:… for IPv6), as keepalived's use_vmac.
	UseVMAC bool
	// VMACPrefix names the VMAC of a UseVMAC instance: PREFIX.VRID, the
	// prefix cut so that the name fits in 15 bytes, as keepalived's
	// vmac_prefix. Empty means "vrrp". It may not contain '/', ':' or
	// white space.
	VMACPrefix string
	// VMACXmitBase, with UseVMAC, sends and receives the adverts on
	// Interface, from its own MAC, rather than on the VMAC (keepalived's
	// vmac_xmit_base); the VIPs and their announcements stay on the VMAC.
	VMACXmitBase bool
	// PromoteSecondaries sets net.ipv4.conf.Interface.promote_secondaries
	// to 1 while the platform is open, as keepalived's
	// promote_secondaries: removing the interface's primary IPv4 address
	// (a VIP of the same subnet, say) then keeps its secondaries. The old
	// value is restored when the platform closes; an interface that has
	// 1 already is left alone. Not with UseVMAC: a VMAC (IPv4) has it set
	// always. False leaves the sysctl as it is.
	PromoteSecondaries bool
	// GARP is when gratuitous ARPs / unsolicited NAs are sent after
	// becoming master; the zero value is keepalived's defaults.
	GARP netlink.AnnounceTiming
	// Label is the label of IPv4 VIPs (keepalived's label); optional.
	Label string
	// Routes and Rules follow the VIPs (virtual_routes, virtual_rules).
	Routes []netlink.Route
	Rules  []netlink.Rule
	// ExcludedVIPs are addresses held with the VIPs but not advertised
	// (keepalived's virtual_ipaddress_excluded): added when the router
	// adds its VIPs, removed when it removes the last of them; either
	// family. Each needs VRRP.VIPs (an instance without VIPs adds none)
	// and differs from them; none means none.
	ExcludedVIPs []netip.Prefix
	// AddrOptions are the options (scope, broadcast, ...) of the VIPs and
	// ExcludedVIPs, by prefix; an address without an entry has the zero
	// options. A removed address with NoTrack is not put back.
	AddrOptions map[netip.Prefix]netlink.AddrOptions
}

// IPv6 reports whether the instance is an IPv6 one: its first VIP, or
// else its unicast source, is IPv6.
func (ic InstanceConfig) IPv6() bool {
	switch {
	case len(ic.VRRP.VIPs) > 0:
		a := ic.VRRP.VIPs[0].Addr()
		return a.Is6() && !a.Is4In6()
	case ic.UnicastSrc.IsValid():
		return ic.UnicastSrc.Is6() && !ic.UnicastSrc.Is4In6()
	}
	return false
}

// Config configures a Host.
type Config struct {
	// Netns is the network namespace New runs in, as a path to a
	// namespace file: /run/netns/NAME (what `ip netns add NAME` makes) or
	// /proc/PID/ns/net. Empty means the namespace of the thread calling
	// New. NewOn ignores it: the Platform is where it runs.
	Netns     string
	Instances []InstanceConfig
	// Logger receives all logs; nil discards them.
	Logger *slog.Logger
}

// Host runs VRRP instances on a Platform and wires them to it: each
// router gets the platform's Conn, address manager and announcer for its
// instance, and the platform's interface and address events put an
// instance whose interface is down into FAULT and tell each router of the
// addresses removed from its interface (a master puts back its own VIPs:
// vrrp.Router.AddrRemoved). A VIP configured in several instances on one
// interface is removed only when none of them is master.
//
// On Linux, New runs on the real host (raw sockets, netlink, packet
// sockets); NewOn runs on any Platform, such as vigiltest's in-memory
// one.
type Host struct {
	cfg    Config
	log    *slog.Logger
	p      Platform
	events Events
	insts  []*instance
	vips   hostwire.Table
	ran    atomic.Bool
	closed sync.Once
	cerr   error
}

type instance struct {
	cfg    InstanceConfig
	iface  string // the interface the instance sends on (VMAC or Interface)
	router *vrrp.Router
	held   *hostwire.Held
}

// NewOn makes a Host for cfg's instances on platform p; the Host owns
// p from then on (Close closes it). On error it closes p.
func NewOn(p Platform, cfg Config) (*Host, error) {
	h := &Host{cfg: cfg, log: logx.OrDiscard(cfg.Logger), p: p}
	for _, ic := range cfg.Instances {
		if err := h.addInstance(ic); err != nil {
			h.Close()
			return nil, err
		}
	}
	h.events = p.Subscribe(1024) // before Run: from the initial listing on
	return h, nil
}

func (h *Host) addInstance(ic InstanceConfig) error {
	io, err := h.p.Instance(ic)
	if err != nil {
		return err
	}
	held := hostwire.NewHeld(io.Addrs, io.Interface, &h.vips, ic.ExcludedVIPs, ic.AddrOptions)
	rc := ic.VRRP
	if rc.Logger == nil {
		rc.Logger = h.log
	}
	r, err := vrrp.NewRouter(io.Conn, held, io.Announcer, rc)
	if err != nil {
		return err
	}
	if err := r.SetTimers(io.Timers); err != nil {
		return fmt.Errorf("vigil: instance %s: %w", ic.VRRP.Name, err)
	}
	h.insts = append(h.insts, &instance{cfg: ic, iface: io.Interface, router: r, held: held})
	return nil
}

// Routers returns the instances' routers, in configuration order, for
// status, stats, subscriptions, Track, SetFault and Reconfigure. They run
// with the timers the platform chose (InstanceIO.Timers: precise on
// Linux); call SetTimers on them before Run to choose otherwise.
func (h *Host) Routers() []*vrrp.Router {
	out := make([]*vrrp.Router, len(h.insts))
	for i, in := range h.insts {
		out[i] = in.router
	}
	return out
}

// Run runs the platform and every router until ctx is done, then stops
// the routers gracefully (priority 0, VIPs removed) and closes
// everything. It returns only when all its goroutines have ended. A Host
// runs once: a second call returns ErrRan.
func (h *Host) Run(ctx context.Context) error {
	if !h.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	defer h.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(h.insts)+1)
	pctx, pcancel := context.WithCancel(context.Background())
	wg.Go(func() {
		if err := h.p.Run(pctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("vigil: platform: %w", err)
			cancel()
		}
	})
	followDone := make(chan struct{})
	go func() { defer close(followDone); h.follow(ctx) }()
	var rwg sync.WaitGroup
	for _, in := range h.insts {
		rwg.Go(func() {
			if err := in.router.Run(ctx); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	rwg.Wait()
	cancel()
	<-followDone
	pcancel()
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// follow applies the platform's events to the instances. When the
// subscription dropped events, it applies the platform's Snapshot first.
func (h *Host) follow(ctx context.Context) {
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-h.events.C():
			if !ok {
				return
			}
			hostwire.ApplyEvent(h.p.Snapshot, h.events, &dropped, h.log, e, h.apply)
		}
	}
}

func (h *Host) apply(e netlink.Event) {
	for _, in := range h.insts {
		if e.Interface != in.cfg.Interface && e.Interface != in.iface {
			continue
		}
		switch e.Kind {
		case netlink.InterfaceDown, netlink.InterfaceRemoved:
			h.log.Warn("vigil: interface down: instance goes to FAULT", "instance", in.cfg.VRRP.Name, "interface", e.Interface)
			in.router.SetFault(hostwire.FaultSource(e.Interface), true)
		case netlink.InterfaceUp:
			in.router.SetFault(hostwire.FaultSource(e.Interface), false)
		case netlink.InterfaceAdded:
			in.router.SetFault(hostwire.FaultSource(e.Interface), !e.Up)
		case netlink.AddrRemoved, netlink.AddrDADFailed:
			hostwire.AddrEvent(h.log, e, &in.cfg.VRRP, in.cfg.AddrOptions, in.router, in.held)
		}
	}
}

// Restored counts VIPs the routers put back after someone else removed
// them (their Stats.VIPsRestored, summed).
func (h *Host) Restored() uint64 {
	var n uint64
	for _, in := range h.insts {
		n += in.router.Stats().VIPsRestored
	}
	return n
}

// Close releases the platform (on Linux: sockets, announcers, address
// managers, VMACs removed, sysctls restored). Run calls it on return;
// calling it again returns the first call's result.
func (h *Host) Close() error {
	h.closed.Do(func() {
		if h.events != nil {
			h.events.Close()
		}
		h.cerr = h.p.Close()
	})
	return h.cerr
}
