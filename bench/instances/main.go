//go:build linux

// Command instances measures the CPU and memory of many VRRP instances,
// keepalived next to vigil (examples/vrrpd: the vrrp package on
// host.Host), next to vigild (cmd/vigild on the same keepalived.conf as
// keepalived: the Supervisor, what operators run) and next to a floor of
// raw system calls, on a master node and on a backup node.
//
// For each size N (-instances, default 200 and 1,000) and each run, each
// implementation gets a fresh topology: two nodes (nstest.Build(2)), the
// master (priority 150, state MASTER) and the backup (priority 100, state
// BACKUP) of N VRRPv3 instances at 100 ms, VIP 198.18.0.g+1/15 for
// instance g. VRIDs are 1..255 per interface, so N is spread evenly over
// ceil(N/255) interfaces per node (200: eth0; 1,000: eth0..eth3 with 250
// VRIDs each), each interface on a bridge of its own, as separate VLANs
// would be: the same for both daemons. The master is started first and
// must be MASTER of all N, then the backup, which must be BACKUP of all N
// and stay so. After a warmup (past the master's second gratuitous ARP
// burst, 5 s after it became master) the bench samples, over a window:
//
//   - CPU of each node: utime+stime from /proc/PID/stat at the start and
//     end of the window (keepalived: parent + VRRP child), cross-checked
//     with the threads' /proc/PID/task/*/schedstat run time;
//   - the master's adverts in the window, counted in a tcpdump capture on
//     each bridge, next to N x window / interval and per (interface,
//     VRID); CPU per advert is a node's CPU time over that count: sent by
//     the master, received by the backup;
//   - memory at the end: VmRSS from /proc/PID/status (keepalived: parent
//     plus VRRP child, its total), Pss from /proc/PID/smaps_rollup, the
//     peak (VmHWM) and the threads.
//
// The floor (floor.go) is the same adverts sent
// by the master node and received by the backup node with raw sockets
// and nothing else: this program run again in each namespace. Its CPU
// is what the kernel's work on the adverts costs and little more: the
// floor of any implementation that makes a system call per advert.
//
// Runs alternate the order of the implementations. A run that fails (a
// daemon that does not elect, or has a transition in the window) is
// reported and counted in the table, and the others go on. The tables
// give min / median / max over the runs, the ratios vigil / keepalived
// and vigild / keepalived per run (measured in the same run, one after
// the other), and each daemon / floor with the targets in µs next to
// the floor's.
//
// Run as root from the module root:
//
//	go run ./bench/instances              # 200 and 1,000 instances, 3 runs, 30 s windows: ~17-22 min
//	go run ./bench/instances -quick       # 1 run, 10 s windows: ~5-7 min
//
// -profile DIR profiles vrrpd over the window (CPU, heap, goroutines,
// MemStats, /proc/PID/smaps and status); the profiler costs CPU, so
// such a run is for explaining, not for the figures.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

// allImpls are the implementations -impl takes, and its default.
var allImpls = []string{"keepalived", "vigil", "vigild", "floor"}

type config struct {
	sizes    []layout
	interval time.Duration
	duration time.Duration
	warmup   time.Duration
	runs     int
	noBackup bool
	impls    []string
	vrrpd    string
	vigild   string
	self     string // this program, for -impl floor
	wakes    int    // -floor-wakes
	workDir  string
	keep     bool
	profile  string
	// immediate: -immediate-capture, tcpdump woken once an advert (at
	// the sender's expense), as before the sixteenth round.
	immediate bool
}

func main() {
	if code, ok := floorMain(os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("instances", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/instances [flags] (as root, from the module root)\n\n"+
			"Measures CPU per advert and memory of N VRRP instances (a master and a backup node) for keepalived and vigil's vrrpd,\n"+
			"next to a floor: the same adverts by raw sockets and nothing else.\n\nflags:\n")
		fs.PrintDefaults()
	}
	c := &config{}
	sizes := fs.String("instances", "200,1000", "instance counts, comma-separated (above 255: spread evenly over interfaces of 255 VRIDs at most)")
	fs.DurationVar(&c.interval, "interval", 100*time.Millisecond, "advert interval (VRRPv3: whole centiseconds below 1s)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "measurement window")
	fs.DurationVar(&c.warmup, "warmup", 10*time.Second, "wait after all instances are MASTER and BACKUP before the window (the second GARP burst comes at 5s)")
	fs.IntVar(&c.runs, "runs", 3, "runs per (size, implementation)")
	fs.BoolVar(&c.noBackup, "no-backup", false, "run the master node only")
	fs.BoolVar(&c.immediate, "immediate-capture", false, "capture the adverts with tcpdump --immediate-mode, which wakes tcpdump once an advert at the sender's expense (the records before the sixteenth round); default: woken once a block of adverts")
	impls := fs.String("impl", strings.Join(allImpls, ","), "implementations, comma-separated: keepalived, vigil (examples/vrrpd: the vrrp package on host.Host), vigild (cmd/vigild on the same keepalived.conf: the Supervisor), floor (raw sockets and nothing else: the kernel's share)")
	fs.IntVar(&c.wakes, "floor-wakes", 1, "floor: the sender's wake-ups per interval, the instances split evenly among them: 1 sends an interval's adverts in one burst; the instance count or more, one advert per wake-up, spread evenly")
	quick := fs.Bool("quick", false, "short run: -runs 1 -duration 10s -warmup 6s (overrides them)")
	fs.StringVar(&c.vrrpd, "vrrpd", "", "vrrpd binary to use (default: go build ./examples/vrrpd into a temporary directory)")
	fs.StringVar(&c.vigild, "vigild", "", "vigild binary to use (default: CGO_ENABLED=0 go build ./cmd/vigild into a temporary directory)")
	keep := fs.String("keep", "", "keep the pcaps and daemon logs under this directory")
	fs.StringVar(&c.profile, "profile", "", "vigil: CPU profile of the window, heap, goroutines, MemStats and /proc/PID/smaps at its end, under DIR/RUN/{master,backup} (the profiler costs CPU: not for the figures)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fs.Args())
		return 2
	}
	if *quick {
		c.runs, c.duration, c.warmup = 1, 10*time.Second, 6*time.Second
	}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintf(stderr, "instances: -instances %q: %v\n", f, err)
			return 2
		}
		l, err := layoutFor(n)
		if err != nil {
			fmt.Fprintf(stderr, "instances: -instances: %v\n", err)
			return 2
		}
		c.sizes = append(c.sizes, l)
	}
	switch {
	case c.interval < 10*time.Millisecond || c.interval >= time.Second || c.interval%(10*time.Millisecond) != 0:
		fmt.Fprintln(stderr, "instances: -interval: want whole centiseconds in 10ms..990ms (VRRPv3)")
		return 2
	case c.duration < time.Second || c.duration > time.Hour || c.warmup < 0 || c.warmup > time.Hour:
		fmt.Fprintln(stderr, "instances: -duration: want 1s..1h; -warmup: 0..1h")
		return 2
	case c.runs < 1 || c.runs > 100:
		fmt.Fprintln(stderr, "instances: -runs: want 1..100")
		return 2
	case c.wakes < 1:
		fmt.Fprintln(stderr, "instances: -floor-wakes: want 1 or more")
		return 2
	}
	var err error
	if c.impls, err = benchkit.ParseList(*impls, allImpls); err != nil {
		fmt.Fprintf(stderr, "instances: -impl %v\n", err)
		return 2
	}
	if slices.Contains(c.impls, "floor") {
		if c.self, err = os.Executable(); err != nil {
			fmt.Fprintln(stderr, "instances:", err)
			return 1
		}
	}

	ctx, stop := benchkit.SignalContext()
	defer stop()
	ws, cleanup, err := benchkit.Prepare(ctx, "instances", c.impls, benchkit.Workspace{Vrrpd: c.vrrpd, Vigild: c.vigild}, *keep, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "instances:", err)
		return 1
	}
	defer cleanup()
	c.workDir, c.keep, c.vrrpd, c.vigild = ws.Dir, ws.Keep, ws.Vrrpd, ws.Vigild

	env := benchkit.Environment()
	results := make([]map[string][]sample, len(c.sizes))
	failed := make([]map[string]int, len(c.sizes))
	for i := range results {
		results[i], failed[i] = map[string][]sample{}, map[string]int{}
	}

	for r := range c.runs {
		for i, l := range c.sizes {
			order := slices.Clone(c.impls)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, impl := range order {
				fmt.Fprintf(stderr, "run %d/%d: %s, %d instances on %d interface(s) at %v, warmup %v, window %v ...\n",
					r+1, c.runs, impl, l.n, l.ifaces, c.interval, c.warmup, c.duration)
				s, err := measure(ctx, c, l, impl, r+1)
				if ctx.Err() != nil {
					fmt.Fprintln(stderr, "instances: interrupted; everything it created is removed")
					printTables(stdout, env, c, results, failed)
					return 130
				}
				if err != nil {
					// Recorded, and the other runs go on: a daemon that
					// cannot hold its instances at one size says so in the
					// table, next to what it did elsewhere.
					fmt.Fprintf(stderr, "instances: run %d, %s, %d instances: %v\n", r+1, impl, l.n, err)
					failed[i][impl]++
					continue
				}
				s.run = r + 1
				mst, _ := s.perAdvert(s.master)
				bst, _ := s.perAdvert(s.backup)
				fmt.Fprintf(stderr, "  %d adverts (%+.2f%%); master %.2f µs/advert, RSS %s MiB; backup %.2f µs/advert, RSS %s MiB; load %s\n",
					s.adverts, 100*(float64(s.adverts)/s.expected-1), mst, mib(s.master.mem.RSS), bst, mib(s.backup.mem.RSS), benchkit.LoadAvg())
				results[i][impl] = append(results[i][impl], s)
			}
		}
	}
	printTables(stdout, env, c, results, failed)
	for _, f := range failed {
		if len(f) > 0 {
			return 1
		}
	}
	return 0
}
