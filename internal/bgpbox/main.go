// Command bgpbox is one anycast box for the bgp package's namespace tests
// and benchmark: a vigil Supervisor tracking a TCP check of the box's
// service ("backend") and a bgp.Speaker announcing the VIPs while it
// passes, in the network namespace it is started in. It prints each of
// the Speaker's events as a JSON line on stdout. SIGTERM drains
// (Speaker.Drain) and stops; SIGINT stops without draining.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp"
	"github.com/vigil-ha/vigil/check"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bgpbox:", err)
		os.Exit(1)
	}
}

func run() error {
	var peers, vips list
	asn := flag.Uint("asn", 64513, "local AS")
	routerID := flag.String("router-id", "", "BGP identifier (IPv4)")
	flag.Var(&peers, "peer", "ADDRESS:ASN of a peer (repeatable)")
	flag.Var(&vips, "vip", "a prefix announced while the check passes (repeatable)")
	hold := flag.Duration("hold", 3*time.Second, "hold time")
	password := flag.String("password", "", "TCP MD5 password of every session")
	target := flag.String("check", "", "ADDR:PORT the TCP check connects to")
	interval := flag.Duration("interval", 100*time.Millisecond, "check interval (and timeout)")
	drain := flag.Duration("drain", 2*time.Second, "drain time on SIGTERM")
	drainMED := flag.Uint("drain-med", 500, "MED while draining")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	addr, err := netip.ParseAddrPort(*target)
	if err != nil {
		return fmt.Errorf("-check: %w", err)
	}
	pol := check.Policy{Interval: *interval, Timeout: *interval, Rise: 1, Fall: 1, Warmup: -1}
	p, err := vigil.OpenLinux(vigil.LinuxConfig{Logger: log})
	if err != nil {
		return err
	}
	sup, err := vigil.New(p, vigil.Config{Logger: log, Trackers: []vigil.Tracker{
		{Name: "backend", Check: &vigil.TrackerCheck{Checker: &check.TCP{Addr: addr}, Policy: pol}}}})
	if err != nil {
		return err
	}
	cfg := bgp.Config{ASN: uint32(*asn), Logger: log, Drain: bgp.Drain{Time: *drain, MED: uint32(*drainMED)}}
	if cfg.RouterID, err = netip.ParseAddr(*routerID); err != nil {
		return fmt.Errorf("-router-id: %w", err)
	}
	for _, s := range peers {
		i := strings.LastIndex(s, ":")
		if i < 0 {
			return fmt.Errorf("-peer %s: want ADDRESS:ASN", s)
		}
		a, n := s[:i], s[i+1:]
		pa, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("-peer %s: %w", s, err)
		}
		pn, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			return fmt.Errorf("-peer %s: %w", s, err)
		}
		cfg.Peers = append(cfg.Peers, bgp.Peer{Address: pa, ASN: uint32(pn), HoldTime: *hold, ConnectRetry: time.Second, Password: *password})
	}
	for _, s := range vips {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("-vip: %w", err)
		}
		cfg.VIPs = append(cfg.VIPs, bgp.VIP{Prefix: pfx, Trackers: []string{"backend"}})
	}
	sp, err := bgp.New(sup, cfg)
	if err != nil {
		return err
	}
	events := sp.Subscribe(256)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		enc := json.NewEncoder(os.Stdout)
		for ev := range events.C() {
			enc.Encode(ev)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	supDone, spDone := make(chan error, 1), make(chan error, 1)
	go func() { supDone <- sup.Run(ctx) }()
	go func() { spDone <- sp.Run(ctx) }()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		if sig == syscall.SIGTERM {
			if err := sp.Drain(context.Background()); err != nil {
				log.Error("drain", "err", err)
			}
		}
	case err := <-supDone:
		supDone <- err
	case err := <-spDone:
		spDone <- err
	}
	cancel()
	err1, err2 := <-spDone, <-supDone
	<-printed
	if err1 != nil {
		return err1
	}
	return err2
}
