//go:build linux

package vigil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

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
	// UnicastSrc is the source of unicast adverts (keepalived
	// unicast_src_ip); the default is the interface's primary address.
	UnicastSrc netip.Addr
	// UseVMAC runs the instance on a macvlan carrying the virtual MAC
	// 00:00:5e:00:01:{VRID} (…:02:… for IPv6), as keepalived's use_vmac.
	UseVMAC bool
	// GARP is when gratuitous ARPs / unsolicited NAs are sent after
	// becoming master; the zero value is keepalived's defaults.
	GARP netlink.AnnounceTiming
	// Label is the label of IPv4 VIPs (keepalived's label); optional.
	Label string
	// Routes and Rules follow the VIPs (virtual_routes, virtual_rules).
	Routes []netlink.Route
	Rules  []netlink.Rule
}

// HostConfig configures a Host.
type HostConfig struct {
	// Netns is the named network namespace (as ip netns) to run in; empty
	// means the process's own.
	Netns     string
	Instances []InstanceConfig
	// Logger receives all logs; nil discards them.
	Logger *slog.Logger
}

// Host runs VRRP instances on the interfaces of one network namespace and
// wires them to the kernel: one raw socket per interface and family shared
// by its instances, VIPs through netlink, gratuitous ARP / NA, and a
// link and address watcher whose events put an instance whose link is down
// into FAULT and tell each router of the addresses removed from its
// interface (a master puts back its own VIPs: vrrp.Router.AddrRemoved).
type Host struct {
	cfg     HostConfig
	log     *slog.Logger
	netns   string // the path of cfg.Netns's namespace file; empty: the caller's
	events  *netlink.Subscription
	sockets []*vrrp.Socket
	vmacs   []*netlink.VMAC
	anns    []*netlink.Announcer
	addrs   []*netlink.AddrManager
	insts   []*instance
	watcher *netlink.Watcher
	ran     bool
	mu      sync.Mutex
	sysctls []sysctlRestore
	vips    vipTable
}

type instance struct {
	cfg    InstanceConfig
	link   string // the interface the instance sends on (VMAC or Interface)
	router *vrrp.Router
	addrs  *heldAddrs
}

// heldAddrs is the router's AddrManager, remembering which VIPs the
// router holds (added and not removed since: all of them as master, a
// reload adds and removes some). Instances on one interface share a
// vipTable: a VIP configured in several of them is removed only when none
// of them holds it.
type heldAddrs struct {
	vipWriter
	link  string
	table *vipTable
	mu    sync.Mutex
	held  map[netip.Addr]bool
}

// vipWriter is what heldAddrs writes through: a *netlink.AddrManager.
type vipWriter interface {
	AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error
	RemoveVIPs(ctx context.Context, vips []netip.Prefix) error
}

// vipTable counts, per interface and address, the instances holding a
// VIP (they are master).
type vipTable struct {
	mu   sync.Mutex
	held map[vipKey]int
}

type vipKey struct {
	link string
	addr netip.Addr
}

func (a *heldAddrs) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held == nil {
		a.held = map[netip.Addr]bool{}
	}
	var fresh []netip.Prefix
	for _, v := range vips {
		if k := v.Addr().Unmap(); !a.held[k] {
			a.held[k] = true
			fresh = append(fresh, v)
		}
	}
	a.table.change(a.link, fresh, +1)
	return a.vipWriter.AddVIPs(ctx, vips, accept)
}

// RemoveVIPs removes the VIPs that no other instance on the interface
// holds. At start (the router is not master) it removes them whoever put
// them there; while another instance on the interface is master with the
// same VIP, that VIP stays.
func (a *heldAddrs) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var had []netip.Prefix
	for _, v := range vips {
		if k := v.Addr().Unmap(); a.held[k] {
			delete(a.held, k)
			had = append(had, v)
		}
	}
	a.table.change(a.link, had, -1)
	return a.vipWriter.RemoveVIPs(ctx, a.table.unheld(a.link, vips))
}

func (t *vipTable) change(link string, vips []netip.Prefix, d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range vips {
		k := vipKey{link, v.Addr().Unmap()}
		if t.held[k] += d; t.held[k] <= 0 {
			delete(t.held, k)
		}
	}
}

// unheld returns the VIPs of vips that no instance on link holds.
func (t *vipTable) unheld(link string, vips []netip.Prefix) []netip.Prefix {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]netip.Prefix, 0, len(vips))
	for _, v := range vips {
		if t.held[vipKey{link, v.Addr().Unmap()}] == 0 {
			out = append(out, v)
		}
	}
	return out
}

// NewHost opens everything the instances need, in cfg.Netns. On error it
// releases what it opened.
func NewHost(cfg HostConfig) (*Host, error) {
	h := &Host{cfg: cfg, log: cfg.Logger, vips: vipTable{held: map[vipKey]int{}}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if err := h.open(); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Host) open() error {
	var err error
	if h.cfg.Netns != "" {
		h.netns = filepath.Join("/run/netns", h.cfg.Netns)
		if _, err := os.Stat(h.netns); err != nil {
			return fmt.Errorf("vigil: network namespace %q: %w", h.cfg.Netns, err)
		}
	}
	sockets := map[string]*vrrp.Socket{}
	announcers := map[string]*netlink.Announcer{}
	for _, ic := range h.cfg.Instances {
		if err := h.addInstance(ic, sockets, announcers); err != nil {
			return err
		}
	}
	if h.watcher, err = netlink.NewWatcher(netlink.WatcherConfig{Netns: h.netns, Logger: h.log}); err != nil {
		return err
	}
	h.events = h.watcher.Subscribe(1024) // before Run: from the initial listing on
	return nil
}

func (h *Host) addInstance(ic InstanceConfig, sockets map[string]*vrrp.Socket, announcers map[string]*netlink.Announcer) error {
	name := ic.VRRP.Name
	v6 := false
	switch {
	case len(ic.VRRP.VIPs) > 0:
		v6 = ic.VRRP.VIPs[0].Addr().Is6() && !ic.VRRP.VIPs[0].Addr().Is4In6()
	case ic.UnicastSrc.IsValid():
		v6 = ic.UnicastSrc.Is6()
	}
	link := ic.Interface
	var primary netip.Addr
	if ic.UseVMAC {
		// The VMAC has no address of its own: advertise from the parent's.
		if err := h.do(func() error {
			ifi, err := net.InterfaceByName(ic.Interface)
			if err != nil {
				return fmt.Errorf("vigil: instance %s: interface %q: %w", name, ic.Interface, err)
			}
			primary, err = vrrp.InterfaceAddr(ifi, v6)
			return err
		}); err != nil {
			return err
		}
		vm, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: ic.Interface, VRID: ic.VRRP.VRID, IPv6: v6, Netns: h.netns})
		if err != nil {
			return fmt.Errorf("vigil: instance %s: %w", name, err)
		}
		h.vmacs = append(h.vmacs, vm)
		link = vm.Name()
		if !v6 {
			// As keepalived: ARP for an address is answered only by the
			// interface holding it, so the VMAC answers for the VIPs and
			// the parent does not.
			for _, l := range []string{ic.Interface, link} {
				if err := h.setSysctl("net/ipv4/conf/"+l+"/arp_ignore", "1"); err != nil {
					return fmt.Errorf("vigil: instance %s: %w", name, err)
				}
			}
		}
	}
	key := fmt.Sprintf("%s/%v", link, v6)
	sock := sockets[key]
	if sock == nil {
		err := h.do(func() (err error) {
			sock, err = vrrp.Listen(vrrp.SocketConfig{Interface: link, IPv6: v6, Primary: primary, Logger: h.log})
			return err
		})
		if err != nil {
			return fmt.Errorf("vigil: instance %s: %w", name, err)
		}
		sockets[key] = sock
		h.sockets = append(h.sockets, sock)
	}
	conn, err := sock.Conn(ic.VRRP.VRID, vrrp.ConnConfig{Source: ic.UnicastSrc, Peers: ic.VRRP.Peers})
	if err != nil {
		return fmt.Errorf("vigil: instance %s: %w", name, err)
	}
	am, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: link, Netns: h.netns, Label: ic.Label,
		Routes: ic.Routes, Rules: ic.Rules, Logger: h.log.With("instance", name)})
	if err != nil {
		return fmt.Errorf("vigil: instance %s: %w", name, err)
	}
	h.addrs = append(h.addrs, am)
	held := &heldAddrs{vipWriter: am, link: link, table: &h.vips}
	akey := fmt.Sprintf("%s/%+v", link, ic.GARP)
	ann := announcers[akey]
	if ann == nil {
		ann, err = netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: link, Netns: h.netns, Timing: ic.GARP, Logger: h.log})
		if err != nil {
			return fmt.Errorf("vigil: instance %s: %w", name, err)
		}
		announcers[akey] = ann
		h.anns = append(h.anns, ann)
	}
	rc := ic.VRRP
	if rc.Logger == nil {
		rc.Logger = h.log
	}
	r, err := vrrp.NewRouter(conn, held, ann, rc)
	if err != nil {
		return err
	}
	// Takeovers on time: Master_Down_Timer on a timerfd (see Routers).
	if err := r.SetTimers(vrrp.Timers{Precise: true}); err != nil {
		return err
	}
	h.insts = append(h.insts, &instance{cfg: ic, link: link, router: r, addrs: held})
	return nil
}

// do runs fn in the host's namespace.
func (h *Host) do(fn func() error) error { return netlink.InNamespace(h.netns, fn) }

type sysctlRestore struct{ path, old string }

// setSysctl writes a /proc/sys value in the host's namespace, remembering
// the old value for Close.
func (h *Host) setSysctl(key, val string) error {
	return h.do(func() error {
		p := filepath.Join("/proc/sys", key)
		old, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("sysctl %s: %w", key, err)
		}
		if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, val, err)
		}
		h.mu.Lock()
		h.sysctls = append(h.sysctls, sysctlRestore{p, strings.TrimSpace(string(old))})
		h.mu.Unlock()
		return nil
	})
}

// Routers returns the instances' routers, in configuration order, for
// status, stats, subscriptions, Track and SetFault. They run with
// precise timers (vrrp.Timers{Precise: true}); call SetTimers on them
// before Run to choose otherwise.
func (h *Host) Routers() []*vrrp.Router {
	out := make([]*vrrp.Router, len(h.insts))
	for i, in := range h.insts {
		out[i] = in.router
	}
	return out
}

// ErrHostRan is returned by a second Run.
var ErrHostRan = errors.New("vigil: host already ran")

// Run runs the watcher and every router until ctx is done, then stops the
// routers gracefully (priority 0, VIPs removed) and closes everything. It
// returns only when all its goroutines have ended.
func (h *Host) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.ran {
		h.mu.Unlock()
		return ErrHostRan
	}
	h.ran = true
	h.mu.Unlock()
	defer h.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(h.insts)+1)
	wctx, wcancel := context.WithCancel(context.Background())
	wg.Go(func() {
		if err := h.watcher.Run(wctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("vigil: watcher: %w", err)
		}
	})
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); h.follow(ctx) }()
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
	<-watchDone
	wcancel()
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// follow applies the watcher's events to the instances. When the
// subscription dropped events, it applies the watcher's Snapshot first.
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
			if d := h.events.Dropped(); d != dropped {
				h.log.Warn("vigil: interface events dropped; applying the watcher's current view", "dropped", d-dropped)
				dropped = d
				for _, s := range h.watcher.Snapshot() {
					h.apply(ctx, s)
				}
			}
			h.apply(ctx, e)
		}
	}
}

func (h *Host) apply(ctx context.Context, e netlink.Event) {
	for _, in := range h.insts {
		onLink := e.Interface == in.cfg.Interface || e.Interface == in.link
		if !onLink {
			continue
		}
		switch e.Kind {
		case netlink.InterfaceDown, netlink.InterfaceRemoved:
			h.log.Warn("vigil: interface down: instance goes to FAULT", "instance", in.cfg.VRRP.Name, "interface", e.Interface)
			in.router.SetFault("link:"+e.Interface, true)
		case netlink.InterfaceUp:
			in.router.SetFault("link:"+e.Interface, false)
		case netlink.InterfaceAdded:
			// The interface was created (again): its sockets follow its
			// new index before the router can leave FAULT.
			h.rebind(e.Interface)
			in.router.SetFault("link:"+e.Interface, !e.Up)
		case netlink.AddrRemoved:
			// The router, the only writer of its VIPs, puts back one of
			// them if it is master, on its own goroutine.
			in.router.AddrRemoved(e.Addr)
		case netlink.AddrDADFailed:
			if _, ok := findVIP(in.cfg.VRRP.VIPs, e.Addr); ok {
				h.log.Error("vigil: duplicate address detection failed for a virtual address: another node uses it",
					"instance", in.cfg.VRRP.Name, "addr", e.Addr)
			}
		}
	}
}

// rebind binds the raw sockets on link to its current index (after it
// was deleted and created again; a no-op otherwise).
func (h *Host) rebind(link string) {
	for _, s := range h.sockets {
		if s.Interface() != link {
			continue
		}
		if err := s.Rebind(); err != nil {
			h.log.Error("vigil: binding the VRRP socket to the re-created interface failed", "interface", link, "err", err)
		}
	}
}

// findVIP returns the configured VIP with p's address.
func findVIP(vips []netip.Prefix, p netip.Prefix) (netip.Prefix, bool) {
	for _, x := range vips {
		if x.Addr() == p.Addr().Unmap() {
			return x, true
		}
	}
	return netip.Prefix{}, false
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

// Close releases everything NewHost opened: sockets, announcers, address
// managers, VMACs (removed), sysctls (restored) and the namespace handle.
// Run calls it on return; calling it again is harmless.
func (h *Host) Close() error {
	var errs []error
	for _, s := range h.sockets {
		errs = append(errs, s.Close())
	}
	h.sockets = nil
	for _, a := range h.anns {
		errs = append(errs, a.Close())
	}
	h.anns = nil
	for _, a := range h.addrs {
		errs = append(errs, a.Close())
	}
	h.addrs = nil
	for _, v := range h.vmacs {
		errs = append(errs, v.Remove())
	}
	h.vmacs = nil
	h.mu.Lock()
	restore := h.sysctls
	h.sysctls = nil
	h.mu.Unlock()
	for i := len(restore) - 1; i >= 0; i-- {
		r := restore[i]
		errs = append(errs, h.do(func() error {
			err := os.WriteFile(r.path, []byte(r.old), 0o644)
			if errors.Is(err, os.ErrNotExist) {
				return nil // the VMAC is gone with its settings
			}
			return err
		}))
	}
	return errors.Join(errs...)
}
