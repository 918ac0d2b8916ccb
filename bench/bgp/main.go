//go:build linux

// Command bgp measures how fast a failed health check takes a VIP's route
// out of the upstream router's FIB, vigil's bgp.Speaker next to FRR's own
// bgpd withdrawing a redistributed static route, in the same run.
//
// Three hosts on a bridge (nstest.Build(3)): host 1 is the upstream
// router (FRR's zebra and bgpd, eBGP with both boxes, timers 1/3); host
// 2 is a vigil box (internal/bgpbox: a Supervisor checking the box's
// service every 100 ms, a Speaker announcing 203.0.113.10/32 while the
// check passes); host 3 is an FRR box (zebra, staticd, bgpd
// redistributing the static route 203.0.113.11/32 blackhole). Each run,
// after a random pause, takes each route away once, in alternating order:
//
//   - vigil: the box's service closes; from the deciding check result
//     (the Supervisor's event time, the cause of the Speaker's withdraw
//     event) to the route's deletion from host 1's kernel FIB;
//   - FRR: `no ip route` through vtysh; from the static route's deletion
//     from host 3's kernel FIB (zebra acting on the decision) to the
//     route's deletion from host 1's kernel FIB.
//
// The FIBs are watched with netlink route subscriptions in the
// namespaces, each event timed on arrival. Both clocks are the same
// machine's. Then the routes come back and the next run starts.
//
//	go run ./bench/bgp            # 20 runs
//	go run ./bench/bgp -runs 5
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/internal/nstest"
)

const frrDir = "/usr/lib/frr"

var (
	vigilVIP = netip.MustParsePrefix("203.0.113.10/32")
	frrVIP   = netip.MustParsePrefix("203.0.113.11/32")
	svcPort  = uint16(8080)
)

func main() {
	runs := flag.Int("runs", 20, "withdrawals of each implementation")
	flag.Parse()
	ctx, cancel := benchkit.SignalContext()
	defer cancel()
	if err := run(ctx, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/bgp:", err)
		if ctx.Err() != nil {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// fibEvent is a route added or deleted in a namespace's FIB, timed on
// arrival.
type fibEvent struct {
	at  time.Time
	del bool
	dst netip.Prefix
}

// watchFIB subscribes to h's route changes; stop ends it.
func watchFIB(h *nstest.Host) (<-chan fibEvent, func(), error) {
	ns, err := h.Handle()
	if err != nil {
		return nil, nil, err
	}
	in := make(chan vnl.RouteUpdate, 1024)
	done := make(chan struct{})
	if err := vnl.RouteSubscribeWithOptions(in, done, vnl.RouteSubscribeOptions{Namespace: &ns}); err != nil {
		ns.Close()
		return nil, nil, err
	}
	out := make(chan fibEvent, 1024)
	go func() {
		defer close(out)
		for u := range in {
			at := time.Now()
			if u.Dst == nil {
				continue
			}
			a, _ := netip.AddrFromSlice(u.Dst.IP)
			ones, _ := u.Dst.Mask.Size()
			out <- fibEvent{at: at, del: u.Type == unix.RTM_DELROUTE, dst: netip.PrefixFrom(a.Unmap(), ones)}
		}
	}()
	return out, func() {
		close(done)
		ns.Close()
		for range out {
		}
	}, nil
}

// await returns the time of the next event on c for dst of the kind del.
func await(ctx context.Context, c <-chan fibEvent, dst netip.Prefix, del bool, limit time.Duration) (time.Time, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-c:
			if !ok {
				return time.Time{}, errors.New("route subscription ended")
			}
			if ev.dst == dst && ev.del == del {
				return ev.at, nil
			}
		case <-t.C:
			what := "added"
			if del {
				what = "deleted"
			}
			return time.Time{}, fmt.Errorf("%v not %s within %v", dst, what, limit)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// drainEvents discards the events queued on c.
func drainEvents(c <-chan fibEvent) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// daemons are the processes of one run, stopped by PID at the end.
type daemons struct{ procs []*benchkit.Proc }

func (d *daemons) start(name string, out io.Writer, args ...string) (*benchkit.Proc, error) {
	p, err := benchkit.Start(name, out, out, args...)
	if err == nil {
		d.procs = append(d.procs, p)
	}
	return p, err
}

func (d *daemons) stop() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].Stop(syscall.SIGTERM, 5*time.Second)
	}
}

// startFRR runs FRR daemons (zebra first) on h with the given configs,
// their sockets in dir, and waits for each one's vty socket.
func startFRR(ctx context.Context, d *daemons, h *nstest.Host, dir string, confs map[string]string, order ...string) error {
	for _, name := range order {
		cf := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(cf, []byte(confs[name]), 0o644); err != nil {
			return err
		}
		log := &benchkit.Log{}
		p, err := d.start(name+"@"+h.Name, log, "ip", "netns", "exec", h.Name, filepath.Join(frrDir, name),
			"-u", "root", "-g", nstest.FRRGroup(), "-f", cf, "-i", filepath.Join(dir, name+".pid"),
			"-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, name+".vty")); err == nil {
				break
			}
			if p.Exited() || time.Now().After(deadline) {
				return fmt.Errorf("%s on %s did not start: %s", name, h.Name, log.Tail(10))
			}
			if err := benchkit.Sleep(ctx, 10*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func vtysh(dir, daemon string, cmds ...string) error {
	args := []string{"--vty_socket", dir, "-d", daemon}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	if out, err := exec.Command("vtysh", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("vtysh %s: %w: %s", strings.Join(cmds, "; "), err, out)
	}
	return nil
}

// service is the vigil box's service on its VIP, which its check probes.
type service struct {
	h  *nstest.Host
	ln net.Listener
}

func (s *service) up() error {
	return s.h.Do(func() (err error) {
		s.ln, err = net.Listen("tcp", netip.AddrPortFrom(vigilVIP.Addr(), svcPort).String())
		if err == nil {
			go func(ln net.Listener) {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}(s.ln)
		}
		return err
	})
}

func (s *service) down() {
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
}

func run(ctx context.Context, runs int) error {
	if err := benchkit.Preflight("ip", "vtysh"); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-bgp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(os.Stderr, "building internal/bgpbox")
	bin := filepath.Join(tmp, "bgpbox")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./internal/bgpbox").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./internal/bgpbox: %w: %s", err, out)
	}
	seg, err := nstest.Build(3)
	if seg != nil {
		defer seg.Close()
	}
	if err != nil {
		return err
	}
	r, vbox, fbox := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	var d daemons
	defer d.stop()

	upFIB, stopUp, err := watchFIB(r)
	if err != nil {
		return err
	}
	defer stopUp()
	boxFIB, stopBox, err := watchFIB(fbox)
	if err != nil {
		return err
	}
	defer stopBox()

	rdir, fdir := filepath.Join(tmp, "r"), filepath.Join(tmp, "f")
	for _, dir := range []string{rdir, fdir} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
	}
	conf := func(host *nstest.Host, asn int, body string) string {
		return fmt.Sprintf("frr defaults datacenter\nhostname %s\nlog stdout informational\n!\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n%s!\n",
			host.Name, asn, host.Addr4.Addr(), body)
	}
	neighbor := func(a netip.Addr, asn int) string {
		return fmt.Sprintf(" neighbor %s remote-as %d\n neighbor %s timers 1 3\n neighbor %s timers connect 1\n", a, asn, a, a)
	}
	zconf := "log stdout informational\n"
	if err := startFRR(ctx, &d, r, rdir, map[string]string{"zebra": zconf,
		"bgpd": conf(r, 64512, neighbor(vbox.Addr4.Addr(), 64513)+neighbor(fbox.Addr4.Addr(), 64514))}, "zebra", "bgpd"); err != nil {
		return err
	}
	static := fmt.Sprintf("ip route %s blackhole", frrVIP)
	if err := startFRR(ctx, &d, fbox, fdir, map[string]string{"zebra": zconf, "staticd": "log stdout informational\n" + static + "\n",
		"bgpd": conf(fbox, 64514, neighbor(r.Addr4.Addr(), 64512)+" address-family ipv4 unicast\n  redistribute static\n exit-address-family\n")},
		"zebra", "staticd", "bgpd"); err != nil {
		return err
	}

	if _, err := benchkit.Run(ctx, "ip", "-n", vbox.Name, "addr", "add", vigilVIP.String(), "dev", "lo"); err != nil {
		return err
	}
	svc := &service{h: vbox}
	if err := svc.up(); err != nil {
		return err
	}
	defer svc.down()
	boxOut := &benchkit.Log{}
	if _, err := d.start("bgpbox", boxOut, "ip", "netns", "exec", vbox.Name, bin,
		"-router-id", vbox.Addr4.Addr().String(), "-peer", r.Addr4.Addr().String()+":64512",
		"-vip", vigilVIP.String(), "-check", netip.AddrPortFrom(vigilVIP.Addr(), svcPort).String(),
		"-hold", "3s", "-interval", "100ms"); err != nil {
		return err
	}
	// Both routes in the upstream FIB before the first run.
	for _, p := range []netip.Prefix{vigilVIP, frrVIP} {
		if _, err := awaitRoute(ctx, r, p, 20*time.Second); err != nil {
			return fmt.Errorf("upstream FIB: %w\nbgpbox: %s", err, boxOut.Tail(10))
		}
	}
	fmt.Fprintf(os.Stderr, "%s\n", benchkit.Environment())

	var vig, frr, own []time.Duration
	for i := range runs {
		order := []string{"vigil", "frr"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, impl := range order {
			if err := benchkit.Sleep(ctx, time.Duration(rand.IntN(200))*time.Millisecond); err != nil {
				return err
			}
			drainEvents(upFIB)
			drainEvents(boxFIB)
			switch impl {
			case "vigil":
				n := len(boxOut.Lines())
				svc.down()
				gone, err := await(ctx, upFIB, vigilVIP, true, 10*time.Second)
				if err != nil {
					return fmt.Errorf("run %d, vigil: %w\nbgpbox: %s", i+1, err, boxOut.Tail(10))
				}
				cause, sent, err := withdrawCause(ctx, boxOut, n)
				if err != nil {
					return fmt.Errorf("run %d, vigil: %w", i+1, err)
				}
				vig = append(vig, gone.Sub(cause))
				own = append(own, sent.Sub(cause))
				fmt.Fprintf(os.Stderr, "run %d: vigil %s ms\n", i+1, benchkit.Ms(gone.Sub(cause)))
				if err := svc.up(); err != nil {
					return err
				}
				if _, err := await(ctx, upFIB, vigilVIP, false, 10*time.Second); err != nil {
					return fmt.Errorf("run %d, vigil back: %w", i+1, err)
				}
			case "frr":
				if err := vtysh(fdir, "staticd", "configure terminal", "no "+static); err != nil {
					return err
				}
				start, err := await(ctx, boxFIB, frrVIP, true, 10*time.Second)
				if err != nil {
					return fmt.Errorf("run %d, FRR box: %w", i+1, err)
				}
				gone, err := await(ctx, upFIB, frrVIP, true, 10*time.Second)
				if err != nil {
					return fmt.Errorf("run %d, FRR: %w", i+1, err)
				}
				frr = append(frr, gone.Sub(start))
				fmt.Fprintf(os.Stderr, "run %d: FRR %s ms\n", i+1, benchkit.Ms(gone.Sub(start)))
				if err := vtysh(fdir, "staticd", "configure terminal", static); err != nil {
					return err
				}
				if _, err := await(ctx, upFIB, frrVIP, false, 10*time.Second); err != nil {
					return fmt.Errorf("run %d, FRR back: %w", i+1, err)
				}
			}
		}
	}
	report(os.Stdout, vig, frr, own)
	return nil
}

// awaitRoute polls (bounded) until h's FIB has a route to p.
func awaitRoute(ctx context.Context, h *nstest.Host, p netip.Prefix, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for {
		out, err := benchkit.Run(ctx, "ip", "-n", h.Name, "route", "show", "exact", p.String())
		if err == nil && strings.TrimSpace(out) != "" {
			return out, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no route to %v on %s within %v", p, h.Name, limit)
		}
		if err := benchkit.Sleep(ctx, 50*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// withdrawCause waits for bgpbox's withdraw event printed after line n
// and returns its cause (the time of the deciding check result) and its
// time (when GoBGP took the withdrawal).
func withdrawCause(ctx context.Context, out *benchkit.Log, n int) (cause, sent time.Time, err error) {
	err = out.Await(ctx, 5*time.Second, "withdraw event", func(string) bool {
		for _, l := range out.Lines()[n:] {
			var ev struct {
				Kind  string    `json:"kind"`
				Time  time.Time `json:"time"`
				Cause time.Time `json:"cause"`
			}
			if json.Unmarshal([]byte(l.Text), &ev) == nil && ev.Kind == "withdraw" && !ev.Cause.IsZero() {
				cause, sent = ev.Cause, ev.Time
				return true
			}
		}
		return false
	})
	return cause, sent, err
}

// quantile is the nearest-rank q-quantile of ds (sorted in place).
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func report(w io.Writer, vig, frr, own []time.Duration) {
	fmt.Fprintf(w, "\ndeciding health result → route gone from the upstream router's FIB (%d runs each; nearest-rank p99: of 20 runs, the maximum)\n%s\n\n",
		len(vig), benchkit.Environment())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tp50 ms\tp99 ms\tmin / median / max ms")
	v50, v99 := quantile(vig, 0.5), quantile(vig, 0.99)
	f50, f99 := quantile(frr, 0.5), quantile(frr, 0.99)
	fmt.Fprintf(tw, "vigil (bgp.Speaker, GoBGP v4.8.0)\t%s\t%s\t%s\n", benchkit.Ms(v50), benchkit.Ms(v99), benchkit.Summarize(vig))
	fmt.Fprintf(tw, "FRR bgpd (static route removed, redistributed)\t%s\t%s\t%s\n", benchkit.Ms(f50), benchkit.Ms(f99), benchkit.Summarize(frr))
	fmt.Fprintf(tw, "  of which vigil's own: result → GoBGP takes the withdrawal\t%s\t%s\t%s\n", benchkit.Ms(quantile(own, 0.5)), benchkit.Ms(quantile(own, 0.99)), benchkit.Summarize(own))
	fmt.Fprintf(tw, "vigil / FRR\t%s\t%s\t\n", benchkit.Ratio(float64(v50), float64(f50)), benchkit.Ratio(float64(v99), float64(f99)))
	tw.Flush()
}
