//go:build linux

// Command conftest measures what an operator waits for when vigild reads a
// big keepalived.conf, next to keepalived in the same run:
//
//  1. "vigild -t" and "keepalived -t" (configuration test) on a generated
//     keepalived.conf of -vs virtual servers × -rs real servers, each
//     real server with a TCP_CHECK (keepalived #1173's scale: 300 × 100).
//     Each run starts both programs in turn (the order alternates) and
//     reads their wall time and peak RSS (wait4's ru_maxrss). Printed:
//     min / median / max of each and the ratios vigild/keepalived of the
//     medians. Targets: time ≤ 0.5x, RSS ≤ 2x.
//
//  2. The same file through the library, as vigild does it: config.LoadFile,
//     vigil.New on the in-memory platform (vigiltest, its IPVS table an
//     ipvstest.Table), Run until the table holds every real server, then
//     the file rewritten with one real server's weight changed, LoadFile
//     and Reload: the wall time of each step and the IPVS write
//     operations the reload caused (target: one). This part runs in a
//     child process in a network namespace of its own with only lo
//     (unshare -n, or unshare -rn as a plain user), where the real
//     servers' addresses are local and a listener on port 80 accepts the
//     TCP checks the Supervisor starts (every hour, the first ones spread
//     over it), so no check reaches a network and no health changes.
//
// Run from the module root (keepalived on PATH; without it part 1 reports
// vigild alone):
//
//	go run ./bench/conftest               # 5 runs
//	go run ./bench/conftest -runs 10 -vs 300 -rs 100
//	go run ./bench/conftest -write /tmp/k.conf  # the file alone, to profile
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

func main() {
	runs := flag.Int("runs", 5, "runs of each program (part 1) and of the reload (part 2)")
	nvs := flag.Int("vs", 300, "virtual servers")
	nrs := flag.Int("rs", 100, "real servers per virtual server")
	child := flag.String("reload-child", "", "internal: run part 2 on this file and print its results")
	out := flag.String("write", "", "write the generated keepalived.conf to this file and exit (to profile one program on it)")
	flag.Parse()
	if *out != "" {
		if err := os.WriteFile(*out, generate(*nvs, *nrs, 6, 1), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "conftest:", err)
			os.Exit(1)
		}
		return
	}
	if *child != "" {
		if err := reloadChild(*child, *runs, *nvs, *nrs); err != nil {
			fmt.Fprintln(os.Stderr, "conftest:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*runs, *nvs, *nrs); err != nil {
		fmt.Fprintln(os.Stderr, "conftest:", err)
		os.Exit(1)
	}
}

// generate writes keepalived.conf text: nvs virtual servers on
// 198.18.V.1:80 (wrr, DR), each of nrs real servers 198.19.x.y:80 with a
// TCP_CHECK every delay seconds. weight is the weight of the first real
// server of the eighth virtual server (the one part 2 changes).
func generate(nvs, nrs, delay, weight int) []byte {
	var b bytes.Buffer
	b.WriteString("global_defs {\n  router_id conftest\n}\n")
	for v := range nvs {
		fmt.Fprintf(&b, "virtual_server %v 80 {\n  delay_loop %d\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", vsAddr(v), delay)
		for r := range nrs {
			w := 1
			if v == 7 && r == 0 {
				w = weight
			}
			fmt.Fprintf(&b, "  real_server %v 80 {\n    weight %d\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n", rsAddr(v*nrs+r), w)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

func vsAddr(v int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, byte(v / 250), byte(v%250 + 1)})
}
func rsAddr(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 19, byte(n / 250), byte(n%250 + 1)})
}

type sample struct {
	wall time.Duration
	rss  int64 // KiB
}

// measure runs argv to completion and returns its wall time and peak RSS.
func measure(argv ...string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, tail(out.String(), 20))
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return sample{}, fmt.Errorf("%s: no rusage", argv[0])
	}
	return sample{wall: wall, rss: ru.Maxrss}, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func run(runs, nvs, nrs int) error {
	dir, err := os.MkdirTemp("", "conftest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "keepalived.conf")
	text := generate(nvs, nrs, 6, 1)
	if err := os.WriteFile(file, text, 0o644); err != nil {
		return err
	}
	vigild := filepath.Join(dir, "vigild")
	if out, err := exec.Command("go", "build", "-o", vigild, "./cmd/vigild").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/vigild: %v\n%s", err, out)
	}
	keepalived, kerr := exec.LookPath("keepalived")
	fmt.Printf("conftest: %d virtual servers × %d real servers with TCP_CHECK (%d lines), %d runs\n",
		nvs, nrs, bytes.Count(text, []byte("\n")), runs)
	var vs, ks []sample
	for i := range runs {
		order := []string{"vigild", "keepalived"}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, p := range order {
			switch {
			case p == "vigild":
				s, err := measure(vigild, "-t", "-f", file)
				if err != nil {
					return err
				}
				vs = append(vs, s)
			case kerr == nil:
				s, err := measure(keepalived, "-t", "-f", file)
				if err != nil {
					return err
				}
				ks = append(ks, s)
			}
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\n1. configuration test (-t -f FILE)\tmin / median / max wall\tmin / median / max peak RSS\t")
	row := func(name string, ss []sample) (time.Duration, float64) {
		w, r := summarize(ss)
		fmt.Fprintf(tw, "%s\t%v\t%s\t\n", name, w, r)
		return w.Median, r.median
	}
	vw, vr := row("vigild", vs)
	if kerr != nil {
		fmt.Fprintln(tw, "keepalived\tnot found on PATH: install it (apt-get install keepalived) for the ratio\t\t")
		tw.Flush()
	} else {
		kw, kr := row("keepalived", ks)
		tw.Flush()
		tr, rr := float64(vw)/float64(kw), vr/kr
		fmt.Printf("ratio vigild/keepalived (medians): time %.2fx (target ≤ 0.5x: %s), peak RSS %.2fx (target ≤ 2x: %s)\n",
			tr, met(tr <= 0.5), rr, met(rr <= 2))
	}
	return reloadParent(runs, nvs, nrs)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

type rssSummary struct{ min, median, max float64 }

func (r rssSummary) String() string {
	return fmt.Sprintf("%.1f / %.1f / %.1f MiB", r.min, r.median, r.max)
}

func summarize(ss []sample) (benchkit.Summary, rssSummary) {
	var ws, rs []time.Duration
	for _, s := range ss {
		ws = append(ws, s.wall)
		rs = append(rs, time.Duration(s.rss))
	}
	r := benchkit.Summarize(rs)
	mib := func(d time.Duration) float64 { return float64(d) / 1024 }
	return benchkit.Summarize(ws), rssSummary{mib(r.Min), mib(r.Median), mib(r.Max)}
}

// reloadParent runs part 2 in a child process in a network namespace of
// its own.
func reloadParent(runs, nvs, nrs int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "conftest-reload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	unshare := []string{"unshare", "-n"}
	if os.Geteuid() != 0 {
		unshare = []string{"unshare", "-rn"}
	}
	args := append(unshare, self, "-reload-child", filepath.Join(dir, "keepalived.conf"),
		"-runs", fmt.Sprint(runs), "-vs", fmt.Sprint(nvs), "-rs", fmt.Sprint(nrs))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("part 2 (%s): %v", strings.Join(args, " "), err)
	}
	return nil
}

// reloadChild is part 2, in its own network namespace. The real
// servers' addresses are local there (a local route for 198.19.0.0/16 on
// lo) and a listener on port 80 accepts every check, so no health changes
// while the reload is measured.
func reloadChild(file string, runs, nvs, nrs int) error {
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"route", "add", "local", "198.19.0.0/16", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ln, err := net.Listen("tcp4", "0.0.0.0:80")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var load, start, reload, landed []time.Duration
	writes := map[int]int{}
	for range runs {
		l, s, r, t, w, err := reloadOnce(file, nvs, nrs)
		if err != nil {
			return err
		}
		load, start, reload, landed = append(load, l), append(start, s), append(reload, r), append(landed, t)
		writes[w]++
	}
	fmt.Printf("\n2. the same file through the library (config.LoadFile, vigil.New on vigiltest, Reload); %d runs\n", runs)
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "step\tmin / median / max\t")
	fmt.Fprintf(tw, "LoadFile (parse + map + Validate)\t%v\t\n", benchkit.Summarize(load))
	fmt.Fprintf(tw, "New + Run until the table holds %d real servers\t%v\t\n", nvs*nrs, benchkit.Summarize(start))
	fmt.Fprintf(tw, "one weight changed: LoadFile + Reload returns\t%v\t\n", benchkit.Summarize(reload))
	fmt.Fprintf(tw, "one weight changed: until the table has it\t%v\t\n", benchkit.Summarize(landed))
	tw.Flush()
	ok := len(writes) == 1 && writes[1] == runs
	fmt.Printf("IPVS writes per reload (count of runs): %v (target: one: %s)\n", writes, met(ok))
	return nil
}

func reloadOnce(file string, nvs, nrs int) (load, start, reload, landed time.Duration, writes int, err error) {
	if err = os.WriteFile(file, generate(nvs, nrs, 3600, 1), 0o644); err != nil {
		return
	}
	t0 := time.Now()
	cfg, _, err := config.LoadFile(file, config.LoadOptions{})
	if err != nil {
		return
	}
	load = time.Since(t0)
	table := ipvstest.New()
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1"), Table: table})
	if err != nil {
		return
	}
	t1 := time.Now()
	sup, err := vigil.New(p, cfg)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	defer func() {
		cancel()
		if e := <-done; e != nil && err == nil {
			err = e
		}
	}()
	svc := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vsAddr(7), Port: 80}
	dst := ipvs.DestinationKey{Addr: rsAddr(7 * nrs), Port: 80}
	if err = await(60*time.Second, 10*time.Millisecond, func() bool { return destCount(table) == nvs*nrs }); err != nil {
		return
	}
	start = time.Since(t1)
	if err = os.WriteFile(file, generate(nvs, nrs, 3600, 5), 0o644); err != nil {
		return
	}
	table.ResetCounts()
	t2 := time.Now()
	cfg2, _, err := config.LoadFile(file, config.LoadOptions{})
	if err != nil {
		return
	}
	if _, err = sup.Reload(ctx, cfg2); err != nil {
		return
	}
	reload = time.Since(t2)
	if err = await(10*time.Second, 100*time.Microsecond, func() bool { return weight(table, svc, dst) == 5 }); err != nil {
		return
	}
	landed = time.Since(t2)
	// Writes that come later than the weight would be counted too.
	time.Sleep(100 * time.Millisecond)
	writes = table.Writes()
	return
}

// await polls ok every poll until it holds or limit passes.
func await(limit, poll time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not reached within %v", limit)
		}
		time.Sleep(poll)
	}
	return nil
}

func destCount(t *ipvstest.Table) int {
	n := 0
	for _, vs := range t.Table() {
		n += len(vs.Destinations)
	}
	return n
}

// weight reads one destination's weight (one service's destinations: the
// table's Destinations, not a copy of the whole table).
func weight(t *ipvstest.Table, svc ipvs.ServiceKey, d ipvs.DestinationKey) int {
	ds, err := t.Destinations(context.Background(), svc)
	if err != nil {
		return -1
	}
	for _, x := range ds {
		if x.DestinationKey == d {
			return int(x.Weight)
		}
	}
	return -1
}
