//go:build linux

// Command vrrpd runs one or more VRRP routers on a real interface from
// flags, prints every state transition as one JSON line on stdout, and on
// SIGTERM or SIGINT leaves gracefully (a master sends priority 0 and
// removes its addresses). Logs go to stderr. It needs CAP_NET_RAW and
// CAP_NET_ADMIN (root).
//
//	vrrpd -interface eth0 -vrid 51 -priority 150 -version 3 -advert 100ms \
//	      -vip 192.0.2.100/24 -vip 192.0.2.101/24
//
// With -count N it runs N routers with VRIDs vrid..vrid+N-1, the i-th
// router's VIPs shifted up by i addresses (for benchmarks). -interface
// takes a comma-separated list: the N routers then run on each interface
// (VRIDs are per interface), named and shifted on across them, so
// "-interface eth0,eth1 -vrid 1 -count 250" runs VI_1..VI_500. With
// -netns it opens its sockets and netlink handles in that named
// namespace.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/host"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// options are vrrpd's flags.
type options struct {
	iface        string
	netns        string
	vrid         uint
	count        uint
	priority     uint
	version      uint
	advert       time.Duration
	vips         multiFlag
	unicastSrc   string
	peers        multiFlag
	authPass     string
	noPreempt    bool
	preemptDelay time.Duration
	state        string
	noAccept     bool
	noAddrs      bool
	vmac         bool
	garpRepeat   int
	garpInterval time.Duration
	garpDelay    time.Duration
	garpRefresh  time.Duration
	logLevel     string
	profile      string
	advertGrid   time.Duration
	approach     time.Duration
	gcPercent    int
	spellGC      int
	trimAfter    time.Duration
	trace        string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.iface, "interface", "", "interface to run on, or a comma-separated list: -count routers on each (required)")
	fs.StringVar(&o.netns, "netns", "", "network namespace to run in: a name (ip netns) or a path to a namespace file")
	fs.UintVar(&o.vrid, "vrid", 0, "virtual router ID, 1..255 (required)")
	fs.UintVar(&o.count, "count", 1, "number of routers, VRIDs vrid..vrid+count-1")
	fs.UintVar(&o.priority, "priority", 100, "priority, 1..255 (255: address owner)")
	fs.UintVar(&o.version, "version", 2, "VRRP version, 2 or 3")
	fs.DurationVar(&o.advert, "advert", time.Second, "advert interval (v2: whole seconds; v3: whole centiseconds)")
	fs.Var(&o.vips, "vip", "virtual address with prefix length, e.g. 192.0.2.100/24 (repeat; all one family)")
	fs.StringVar(&o.unicastSrc, "unicast-src", "", "unicast source address (with -peer)")
	fs.Var(&o.peers, "peer", "unicast peer address (repeat); without it adverts are multicast")
	fs.StringVar(&o.authPass, "auth-pass", "", "VRRPv2 simple password (auth_type PASS)")
	fs.BoolVar(&o.noPreempt, "nopreempt", false, "do not preempt a lower priority master")
	fs.DurationVar(&o.preemptDelay, "preempt-delay", 0, "delay preemption this long after first hearing a lower master")
	fs.StringVar(&o.state, "state", "BACKUP", "initial state hint: BACKUP or MASTER (as keepalived's state)")
	fs.BoolVar(&o.noAccept, "no-accept", false, "RFC 5798 Accept_Mode off")
	fs.BoolVar(&o.noAddrs, "no-addrs", false, "elect only: do not add addresses or announce them")
	fs.BoolVar(&o.vmac, "vmac", false, "run on a macvlan with the virtual MAC (keepalived use_vmac)")
	fs.IntVar(&o.garpRepeat, "garp-repeat", 5, "gratuitous ARPs / NAs per address per burst")
	fs.DurationVar(&o.garpInterval, "garp-interval", 0, "delay between gratuitous ARPs / NAs")
	fs.DurationVar(&o.garpDelay, "garp-delay", 5*time.Second, "delay before the second burst (0: none)")
	fs.DurationVar(&o.garpRefresh, "garp-refresh", 0, "periodic refresh while master (0: none)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&o.advertGrid, "advert-grid", 10*time.Millisecond, "put masters' periodic adverts on multiples of this (vrrp.Timers.AdvertGrid; at most a tenth of the interval is used), so one wake-up sends many; 0: none")
	fs.DurationVar(&o.approach, "final-approach", 0, "vrrp.Timers.FinalApproach: poll this long before a Master_Down_Timer deadline (0: the default, negative: off)")
	fs.IntVar(&o.gcPercent, "gc-percent", 25, "the Go garbage collector's GOGC, unless the GOGC environment variable is set (see memory.go)")
	fs.IntVar(&o.spellGC, "spell-gc-percent", 400, "the garbage collector's GOGC from the first transition of a spell to the trim -trim-after the last, unless the GOGC environment variable is set (see memory.go); 0: -gc-percent throughout")
	fs.DurationVar(&o.trimAfter, "trim-after", memtrim.DefaultDelay, "give the idle heap back to the OS this long after the last transition (see memory.go); 0 never")
	fs.StringVar(&o.profile, "profile", "", "profile into this directory: SIGUSR1 starts a CPU profile, SIGUSR2 stops it and writes the heap, goroutines and MemStats")
	fs.StringVar(&o.trace, "trace", "", "write a runtime execution trace (go tool trace) to this file while running")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.gcPercent < 1 {
		return nil, fmt.Errorf("-gc-percent %d: want 1 or more", o.gcPercent)
	}
	if o.spellGC < 0 {
		return nil, fmt.Errorf("-spell-gc-percent %d: want 0 or more", o.spellGC)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.iface == "" {
		return nil, errors.New("-interface is required")
	}
	if slices.Contains(o.interfaces(), "") {
		return nil, fmt.Errorf("-interface %q: an empty name", o.iface)
	}
	if o.vrid < 1 || o.vrid > 255 || o.count < 1 || o.vrid+o.count-1 > 255 {
		return nil, fmt.Errorf("-vrid %d -count %d: VRIDs must be in 1..255", o.vrid, o.count)
	}
	if o.priority < 1 || o.priority > 255 {
		return nil, fmt.Errorf("-priority %d: want 1..255", o.priority)
	}
	if o.version != 2 && o.version != 3 {
		return nil, fmt.Errorf("-version %d: want 2 or 3", o.version)
	}
	return o, nil
}

// interfaces are the interfaces -interface names.
func (o *options) interfaces() []string { return strings.Split(o.iface, ",") }

// routerConfigs builds the vrrp.Config of every router the flags ask for:
// -count of them for each interface, in the order of interfaces().
func (o *options) routerConfigs(logger *slog.Logger) ([]vrrp.Config, error) {
	var vips []netip.Prefix
	for _, s := range o.vips {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("-vip %q: %w", s, err)
		}
		vips = append(vips, p)
	}
	var peers []netip.Addr
	for _, s := range o.peers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("-peer %q: %w", s, err)
		}
		peers = append(peers, a)
	}
	var state vrrp.State
	switch strings.ToUpper(o.state) {
	case "BACKUP":
		state = vrrp.Backup
	case "MASTER":
		state = vrrp.Master
	default:
		return nil, fmt.Errorf("-state %q: want BACKUP or MASTER", o.state)
	}
	var out []vrrp.Config
	for g := range uint(len(o.interfaces())) * o.count {
		i := g % o.count // the VRID's offset; g shifts names and VIPs
		c := vrrp.Config{
			Name: fmt.Sprintf("VI_%d", o.vrid+g), VRID: uint8(o.vrid + i), Version: vrrp.Version(o.version),
			Priority: uint8(o.priority), Interval: o.advert, Peers: peers,
			NoPreempt: o.noPreempt, PreemptDelay: o.preemptDelay, NoAccept: o.noAccept, InitialState: state,
			Logger: logger,
		}
		if o.authPass != "" {
			c.AuthType, c.AuthPass = vrrp.AuthSimple, o.authPass
		}
		for _, p := range vips {
			a := p.Addr()
			for range g {
				a = a.Next()
			}
			if !a.IsValid() {
				return nil, fmt.Errorf("-vip %v shifted by %d overflows", p, g)
			}
			c.VIPs = append(c.VIPs, netip.PrefixFrom(a, p.Bits()))
		}
		out = append(out, c)
	}
	return out, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vrrpd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	setMemory(o)
	pctx, pcancel := context.WithCancel(ctx)
	stopProfiler, err := startProfiler(pctx, o.profile)
	if err != nil {
		pcancel()
		return err
	}
	defer func() { pcancel(); err = errors.Join(err, stopProfiler()) }()
	cfgs, err := o.routerConfigs(logger)
	if err != nil {
		return err
	}
	if o.trace != "" {
		f, err := os.Create(o.trace)
		if err != nil {
			return fmt.Errorf("-trace: %w", err)
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return fmt.Errorf("-trace: %w", err)
		}
		defer trace.Stop()
	}
	var unicastSrc netip.Addr
	if o.unicastSrc != "" {
		if unicastSrc, err = netip.ParseAddr(o.unicastSrc); err != nil {
			return fmt.Errorf("-unicast-src %q: %w", o.unicastSrc, err)
		}
	}
	netns := o.netns
	if netns != "" && !strings.Contains(netns, "/") {
		netns = "/run/netns/" + netns // a name, as ip netns gives it
	}
	hc := host.Config{Netns: netns, Logger: logger}
	ifaces := o.interfaces()
	for k, c := range cfgs {
		iface := ifaces[uint(k)/o.count]
		if o.noAddrs {
			c.VIPs = nil
		}
		// Each transition is printed as a JSON line (printEvents): the
		// router's own log line for it goes to Debug.
		c.TransitionLogLevel = slog.LevelDebug
		hc.Instances = append(hc.Instances, host.InstanceConfig{VRRP: c, Interface: iface, UnicastSrc: unicastSrc,
			UseVMAC: o.vmac, GARP: netlink.AnnounceTiming{Repeat: o.garpRepeat, Interval: o.garpInterval,
				SecondDelay: o.garpDelay, RefreshInterval: o.garpRefresh}})
	}
	if o.garpDelay == 0 {
		for i := range hc.Instances {
			hc.Instances[i].GARP.SecondDelay = -1
		}
	}
	h, err := host.New(hc)
	if err != nil {
		return err
	}
	// One precise clock for every router's Master_Down_Timer, as vigil's
	// Linux platform gives them (SetTimers replaces the platform's
	// timers, to set -advert-grid).
	clock, err := vrrp.NewClock()
	if err != nil {
		logger.Warn("vrrpd: shared precise clock unavailable; each router makes its own", "err", err)
		clock = nil
	} else {
		defer clock.Close() // after h.Run: the routers have stopped
	}
	// One queue for every router's events, with room for 4 each: a start
	// queues 2 per router at once (INIT, then BACKUP or MASTER), a mass
	// takeover 1; the printer drains them as they come. Benchmarks count
	// the transitions printed, so none may be dropped.
	events := make(chan vrrp.Event, 4*len(h.Routers())+16)
	for _, r := range h.Routers() {
		if err := r.SetTimers(vrrp.Timers{Precise: true, Clock: clock, AdvertGrid: o.advertGrid, FinalApproach: o.approach}); err != nil {
			return err
		}
		r.SubscribeTo(events)
	}
	var wg sync.WaitGroup
	trim := newTrimmer(o)
	defer trim.Stop()
	wg.Go(func() { printEvents(stdout, events, trim.Kick) })
	err = h.Run(ctx)
	logStats(logger, h.Routers())
	close(events) // h.Run returned: no router sends any more
	wg.Wait()
	return err
}

// logStats logs the routers' counters summed: how a run went (takeovers,
// expiries that found adverts waiting, final approaches).
func logStats(logger *slog.Logger, routers []*vrrp.Router) {
	var sum vrrp.Stats
	for _, r := range routers {
		s := r.Stats()
		sum.AdvertsReceived += s.AdvertsReceived
		sum.AdvertsSent += s.AdvertsSent
		sum.Transitions += s.Transitions
		sum.BecameMaster += s.BecameMaster
		sum.FinalApproaches += s.FinalApproaches
		sum.FinalApproachesSkipped += s.FinalApproachesSkipped
		sum.AdvertsTakenAtExpiry += s.AdvertsTakenAtExpiry
	}
	logger.Info("vrrpd: routers' counters", "routers", len(routers), "adverts_received", sum.AdvertsReceived,
		"adverts_sent", sum.AdvertsSent, "transitions", sum.Transitions, "became_master", sum.BecameMaster,
		"final_approaches", sum.FinalApproaches, "final_approaches_skipped", sum.FinalApproachesSkipped, "adverts_taken_at_expiry", sum.AdvertsTakenAtExpiry)
}
