//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vrrp"
)

// nodeCmd is the hidden subcommand that runs a vigil node: the bench
// re-executes itself as `ip netns exec NS BENCH __node FLAGS`.
const nodeCmd = "__node"

// nodeEvent is one JSON line of a node's stdout: a Supervisor event.
// Instance events have the fields of benchkit.VrrpdEvent, so that
// benchkit.Vrrpd counts the node's transitions.
type nodeEvent struct {
	Kind     string `json:"kind"`
	Time     string `json:"time"`
	Instance string `json:"instance,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Priority uint8  `json:"priority,omitempty"`
	Tracker  string `json:"tracker,omitempty"`
	Up       *bool  `json:"up,omitempty"`
	Err      string `json:"err,omitempty"`
}

// runNode runs one vigil.Supervisor with one instance (VRID 51, VRRPv3)
// and, with -script, one tracker running that script (keepalived's
// vrrp_script), on vigil.OpenLinux, and prints every event as a JSON line
// on stdout until SIGTERM or SIGINT, when it leaves gracefully. Logs go
// to stderr.
func runNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(nodeCmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	netns := fs.String("netns", "", "network namespace file (/run/netns/NAME); empty: this one")
	iface := fs.String("interface", "eth0", "interface")
	prio := fs.Uint("priority", 100, "priority 1..254")
	advert := fs.Duration("advert", 100*time.Millisecond, "advert interval (VRRPv3)")
	vipS := fs.String("vip", "", "virtual address with prefix length")
	state := fs.String("state", "BACKUP", "initial state: BACKUP or MASTER")
	script := fs.String("script", "", "script the instance tracks (empty: none)")
	interval := fs.Duration("interval", time.Second, "script interval")
	timeout := fs.Duration("timeout", time.Second, "script timeout")
	fall := fs.Int("fall", 1, "failed runs in a row that make the tracker fail")
	rise := fs.Int("rise", 1, "passed runs in a row that make it pass")
	weight := fs.Int("weight", 0, "tracker weight: 0 = FAULT while failing, negative = lowered priority")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	vip, err := netip.ParsePrefix(*vipS)
	if err != nil {
		fmt.Fprintln(stderr, "node: -vip:", err)
		return 2
	}
	st := vrrp.Backup
	if strings.EqualFold(*state, "MASTER") {
		st = vrrp.Master
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	inst := vigil.Instance{InstanceConfig: vigil.InstanceConfig{Interface: *iface,
		VRRP: vrrp.Config{Name: fmt.Sprintf("VI_%d", vrid), VRID: vrid, Version: vrrp.V3, Priority: uint8(*prio),
			Interval: *advert, VIPs: []netip.Prefix{vip}, InitialState: st}}}
	cfg := vigil.Config{Instances: []vigil.Instance{inst}, Logger: logger}
	if *script != "" {
		cfg.Trackers = []vigil.Tracker{{Name: trackerName, Weight: *weight, Check: &vigil.TrackerCheck{
			Checker: &check.Exec{Path: *script},
			Policy:  check.Policy{Interval: *interval, Timeout: *timeout, Fall: *fall, Rise: *rise},
		}}}
		cfg.Instances[0].Track = []vigil.Track{{Tracker: trackerName}}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p, err := vigil.OpenLinux(vigil.LinuxConfig{Netns: *netns, Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "node:", err)
		return 1
	}
	s, err := vigil.New(p, cfg) // closes p on error
	if err != nil {
		fmt.Fprintln(stderr, "node:", err)
		return 1
	}
	sub := s.Subscribe(256)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	enc := json.NewEncoder(stdout)
	for e := range sub.C() { // closed when Run returns
		ne := nodeEvent{Kind: e.Kind.String(), Time: e.Time.UTC().Format(time.RFC3339Nano)}
		switch e.Kind {
		case vigil.EventInstance:
			ne.Instance, ne.From, ne.To, ne.Reason, ne.Priority = e.Instance, e.From.String(), e.To.String(), e.Reason.String(), e.Priority
		case vigil.EventPriority:
			ne.Instance, ne.Priority = e.Instance, e.Priority
		case vigil.EventTracker:
			up := e.Up
			ne.Tracker, ne.Up, ne.Err = e.Tracker, &up, e.Err
		default:
			continue
		}
		if err := enc.Encode(ne); err != nil {
			fmt.Fprintln(stderr, "node:", err)
		}
	}
	err = <-done
	if d := sub.Dropped(); d > 0 {
		err = errors.Join(err, fmt.Errorf("%d events dropped", d))
	}
	if err != nil {
		fmt.Fprintln(stderr, "node:", err)
		return 1
	}
	return 0
}
