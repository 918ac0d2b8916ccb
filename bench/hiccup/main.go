//go:build linux

// Command hiccup measures how long a thread that never sleeps is kept
// off its CPU: the floor under every latency the other benchmarks
// measure on the same machine. Each of -threads goroutines, locked to
// an OS thread, reads the monotonic clock in a loop for -d and records
// every gap between two reads longer than -gap (the thread was
// preempted, interrupted, or its virtual CPU taken by the hypervisor).
// With -fifo, the first thread runs SCHED_FIFO at that priority, so no
// ordinary task of the machine can take its CPU: its gaps are
// interrupts and the hypervisor. The others stay SCHED_OTHER (with
// -threads 2 on a 2-CPU machine they keep the other CPU busy, as a
// benchmark's other processes do).
//
// A SCHED_FIFO thread that never sleeps is throttled by the kernel for
// the rest of each period beyond kernel.sched_rt_runtime_us (50 ms in
// every second by default), which would be the gaps measured: -fifo
// needs it off (sysctl kernel.sched_rt_runtime_us=-1; 950000 restores
// the default), and the command refuses otherwise.
//
// Run from the module root (root for -fifo):
//
//	go run ./bench/hiccup                      # one thread, 15 s
//	go run ./bench/hiccup -threads 2           # both CPUs busy
//	go run ./bench/hiccup -threads 2 -fifo 50  # the first one SCHED_FIFO
//
// See bench/README.md, "hiccup".
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"golang.org/x/sys/unix"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hiccup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := fs.Duration("d", 15*time.Second, "how long each thread measures")
	threads := fs.Int("threads", 1, "busy threads measuring at once")
	gap := fs.Duration("gap", 200*time.Microsecond, "record gaps longer than this")
	fifo := fs.Int("fifo", 0, "SCHED_FIFO priority (1..99) of the first thread; 0: SCHED_OTHER")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *d <= 0 || *threads < 1 || *threads > 1024 || *gap <= 0 || *fifo < 0 || *fifo > 99 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "hiccup: want -d > 0, -threads 1..1024, -gap > 0, -fifo 0..99 and no arguments")
		return 2
	}
	if *fifo > 0 {
		if err := rtUnthrottled(); err != nil {
			fmt.Fprintln(stderr, "hiccup:", err)
			return 1
		}
	}
	results := make([]benchkit.Gaps, *threads)
	errs := make([]error, *threads)
	var wg sync.WaitGroup
	for i := range *threads {
		prio := 0
		if i == 0 {
			prio = *fifo
		}
		wg.Go(func() { results[i], errs[i] = measure(*d, *gap, prio) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, "hiccup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d busy thread(s) for %v each on %d CPUs; gaps between two clock reads longer than %v:\n",
		*threads, *d, runtime.NumCPU(), *gap)
	for i, r := range results {
		policy := "SCHED_OTHER"
		if i == 0 && *fifo > 0 {
			policy = fmt.Sprintf("SCHED_FIFO %d", *fifo)
		}
		fmt.Fprintf(stdout, "thread %d (%s): %s\n", i+1, policy, r)
	}
	return 0
}

// rtUnthrottled returns an error unless real-time throttling is off.
func rtUnthrottled() error {
	b, err := os.ReadFile("/proc/sys/kernel/sched_rt_runtime_us")
	if err != nil {
		return err
	}
	if v := strings.TrimSpace(string(b)); v != "-1" {
		return fmt.Errorf("kernel.sched_rt_runtime_us is %s: a SCHED_FIFO thread that never sleeps would be throttled, and the throttling measured; set it to -1 for the run (sysctl -w kernel.sched_rt_runtime_us=-1; the default is 950000)", v)
	}
	return nil
}

// measure reads the clock on a locked thread (SCHED_FIFO at prio, if
// prio > 0) for d and summarises the gaps longer than min.
func measure(d, min time.Duration, prio int) (benchkit.Gaps, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if prio > 0 {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			return benchkit.Gaps{}, fmt.Errorf("SCHED_FIFO %d: %w", prio, err)
		}
		// The thread goes back to the runtime's pool as it was.
		defer unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}, 0)
	}
	return benchkit.SpinGaps(d, min), nil
}
