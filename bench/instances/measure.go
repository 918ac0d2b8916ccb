//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/internal/nstest"
)

// node is one daemon's measurements over the window.
type node struct {
	ticks   int64         // utime+stime
	sched   time.Duration // schedstat run time
	mem     benchkit.Memory
	perProc []benchkit.Memory
	procs   int
}

// sample is one run of one implementation at one size.
type sample struct {
	impl           string
	run            int // 1.., the run of the bench it came from
	window         time.Duration
	master, backup node
	hasBackup      bool
	adverts        int // the master's, captured in the window
	expected       float64
	minPer, maxPer int // adverts per (interface, VRID)
	keys           int // (interface, VRID) pairs seen
}

func (n node) cpuTime() time.Duration { return time.Duration(n.ticks) * benchkit.ClockTick }

// perAdvert is CPU per captured advert in µs, from stat and schedstat.
func (s sample) perAdvert(n node) (stat, sched float64) {
	a := float64(s.adverts)
	return float64(n.cpuTime()) / a / 1e3, float64(n.sched) / a / 1e3
}

// cpu sums the CPU counters of pids.
func cpu(pids []int) (int64, time.Duration, error) {
	var ticks int64
	var sched time.Duration
	for _, pid := range pids {
		t, err := benchkit.CPUTicks(pid)
		if err != nil {
			return 0, 0, err
		}
		s, err := benchkit.SchedRuntime(pid)
		if err != nil {
			return 0, 0, err
		}
		ticks, sched = ticks+t, sched+s
	}
	return ticks, sched, nil
}

// cpuOf reads the CPU counters of each router (all its processes).
func cpuOf(routers []benchkit.Router) ([]node, error) {
	out := make([]node, len(routers))
	for i, r := range routers {
		var err error
		if out[i].ticks, out[i].sched, err = cpu(r.PIDs()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func memory(pids []int) (node, error) {
	var n node
	for _, pid := range pids {
		m, err := benchkit.ReadMemory(pid)
		if err != nil {
			return n, err
		}
		n.perProc = append(n.perProc, m)
		n.mem.RSS += m.RSS
		n.mem.HWM += m.HWM
		n.mem.PSS += m.PSS
		n.mem.Threads += m.Threads
	}
	n.procs = len(pids)
	return n, nil
}

func startRouter(ctx context.Context, c *config, l layout, impl string, h *nstest.Host, dir, state string, prio int, profile string) (benchkit.Router, error) {
	if impl == "floor" {
		f, err := startFloor(c.self, h.Name, state, floorFlags{l: l, interval: c.interval, prio: prio, wakes: min(c.wakes, l.n)})
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	if impl == "keepalived" {
		k, err := benchkit.StartKeepalived(ctx, h.Name, dir, keepalivedConf(h, l, c.interval, state, prio))
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	if impl == "vigild" {
		v, err := benchkit.StartVigild(c.vigild, h.Name, dir, keepalivedConf(h, l, c.interval, state, prio))
		if err != nil {
			return nil, err
		}
		return v, nil
	}
	args := vrrpdArgs(l, c.interval, state, prio)
	if profile != "" {
		args = append(args, "-profile", profile)
	}
	v, err := benchkit.StartVrrpd(c.vrrpd, h.Name, args...)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// states is a Router's transition counts, to find transitions in the
// window.
func states(r benchkit.Router) string {
	return fmt.Sprintf("MASTER x%d, BACKUP x%d, FAULT x%d", r.States("MASTER"), r.States("BACKUP"), r.States("FAULT"))
}

// backups is how many instances of a backup node (started as BACKUP) are
// BACKUP now: each went INIT → BACKUP, and every MASTER it entered since
// ended in BACKUP again, or not yet.
func backups(r benchkit.Router) int {
	return r.States("BACKUP") - r.States("MASTER") - r.States("FAULT")
}

func awaitBackups(ctx context.Context, r benchkit.Router, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for backups(r) != n {
		if time.Now().After(deadline) {
			return fmt.Errorf("the backup node: %d instances BACKUP after %v, want %d (%s)", backups(r), limit, n, states(r))
		}
		if err := benchkit.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// measure runs one implementation at one layout in a fresh topology,
// deleted before it returns: a master node, and a backup node unless
// c.noBackup.
func measure(ctx context.Context, c *config, l layout, impl string, run int) (s sample, err error) {
	s.impl, s.hasBackup = impl, !c.noBackup
	hosts := 2
	if c.noBackup {
		hosts = 1
	}
	name := fmt.Sprintf("%s-%d-run%d", impl, l.n, run)
	dir, seg, release, err := benchkit.Fresh(benchkit.Workspace{Dir: c.workDir, Keep: c.keep}, name, hosts)
	if err != nil {
		return s, err
	}
	defer func() { err = errors.Join(err, release()) }()
	if err = addInterfaces(seg, l); err != nil {
		return s, err
	}
	mh := seg.Hosts[0]
	var captures []*benchkit.Capture
	defer func() {
		for _, cp := range captures {
			cp.Stop()
		}
	}()
	for j := range l.ifaces {
		// A capture woken once an advert would charge each wake-up to the
		// sender: the bridge's receive path runs in its sendmsg. The
		// buffered one is woken once a block (bench/README.md,
		// "The capture's wake-ups").
		start := benchkit.StartBufferedCapture
		if c.immediate {
			start = benchkit.StartCapture
		}
		cp, err := start(ctx, seg.Switch, fmt.Sprintf("br%d", j), filepath.Join(dir, fmt.Sprintf("br%d.pcap", j)), 64, "ip proto 112")
		if err != nil {
			return s, err
		}
		captures = append(captures, cp)
	}
	var profile string
	if c.profile != "" && impl == "vigil" {
		profile = filepath.Join(c.profile, name)
	}

	sub := func(role string) (string, string, error) { // the daemon's directory and profile directory
		d := filepath.Join(dir, role)
		if profile == "" {
			return d, "", os.MkdirAll(d, 0o755)
		}
		return d, filepath.Join(profile, role), os.MkdirAll(d, 0o755)
	}
	var routers []benchkit.Router
	defer func() { err = benchkit.StopRouters(err, dir, c.keep, routers...) }()
	limit := 3*c.interval + 30*time.Second
	mdir, mprof, err := sub("master")
	if err != nil {
		return s, err
	}
	master, err := startRouter(ctx, c, l, impl, mh, mdir, "MASTER", masterPriority, mprof)
	if err != nil {
		return s, err
	}
	routers = append(routers, master)
	if err = master.AwaitStates(ctx, "MASTER", l.n, limit); err != nil {
		return s, err
	}
	var backup benchkit.Router
	if !c.noBackup {
		bdir, bprof, err := sub("backup")
		if err != nil {
			return s, err
		}
		backup, err = startRouter(ctx, c, l, impl, seg.Hosts[1], bdir, "BACKUP", backupPriority, bprof)
		if err != nil {
			return s, err
		}
		routers = append(routers, backup)
		if err = backup.AwaitStates(ctx, "BACKUP", l.n, limit); err != nil {
			return s, err
		}
		// A backup that started on a busy machine may take over some
		// instances before it hears their master, and give them back at
		// the next advert (keepalived and vrrpd alike): wait until all
		// are BACKUP again.
		if err = awaitBackups(ctx, backup, l.n, limit); err != nil {
			return s, err
		}
	}
	if err = benchkit.Sleep(ctx, c.warmup); err != nil {
		return s, err
	}
	before := make([]string, len(routers))
	for i, r := range routers {
		before[i] = states(r)
	}
	signal := func(sig syscall.Signal) {
		if profile == "" {
			return
		}
		for _, r := range routers {
			for _, pid := range r.PIDs() {
				syscall.Kill(pid, sig)
			}
		}
	}
	signal(syscall.SIGUSR1)
	t1 := time.Now()
	start, err := cpuOf(routers)
	if err != nil {
		return s, err
	}
	if err = benchkit.Sleep(ctx, c.duration); err != nil {
		return s, err
	}
	end, err := cpuOf(routers)
	if err != nil {
		return s, err
	}
	t2 := time.Now()
	nodes := []*node{&s.master, &s.backup}
	for i, r := range routers {
		if *nodes[i], err = memory(r.PIDs()); err != nil {
			return s, err
		}
		nodes[i].ticks, nodes[i].sched = end[i].ticks-start[i].ticks, end[i].sched-start[i].sched
	}
	if profile != "" {
		signal(syscall.SIGUSR2)
		if err = saveProc(profile, routers); err != nil {
			return s, err
		}
	}
	for i, r := range routers {
		if r.Exited() {
			return s, errors.New("a daemon exited during the window")
		}
		if after := states(r); after != before[i] {
			return s, fmt.Errorf("transitions during the window: %s before, %s after", before[i], after)
		}
	}
	if m := master.States("MASTER"); m != l.n {
		return s, fmt.Errorf("the master node has %d instances MASTER, want %d", m, l.n)
	}
	if backup != nil {
		if b := backups(backup); b != l.n {
			return s, fmt.Errorf("the backup node has %d instances BACKUP, want %d", b, l.n)
		}
	}
	s.window = t2.Sub(t1)
	s.expected = float64(l.n) * float64(s.window) / float64(c.interval)

	macs := nodeMACs(mh, l)
	per := map[[2]int]int{}
	if !c.immediate {
		// The window's last adverts reach the files within BufferedLag.
		if err = benchkit.Sleep(ctx, benchkit.BufferedLag); err != nil {
			return s, err
		}
	}
	for j, cp := range captures {
		if err = cp.Stop(); err != nil {
			return s, err
		}
		if cp.Dropped > 0 {
			return s, fmt.Errorf("tcpdump on br%d dropped %d packets: the advert count is not exact", j, cp.Dropped)
		}
		err = benchkit.ReadFrames(cp.File, func(f *benchkit.Frame) {
			if f.IsVRRP && slices.Equal(f.SrcMAC, macs[j]) && !f.Time.Before(t1) && !f.Time.After(t2) {
				per[[2]int{j, int(f.VRID)}]++
				s.adverts++
			}
		})
		if err != nil {
			return s, err
		}
	}
	s.keys = len(per)
	s.minPer, s.maxPer = -1, 0
	for _, n := range per {
		if s.minPer < 0 || n < s.minPer {
			s.minPer = n
		}
		s.maxPer = max(s.maxPer, n)
	}
	if s.adverts == 0 {
		return s, errors.New("no adverts captured in the window")
	}
	if s.keys != l.n {
		return s, fmt.Errorf("adverts of %d instances captured, want %d", s.keys, l.n)
	}
	return s, nil
}

// saveProc copies each daemon's /proc/PID/{smaps,status} into dir, and
// waits (bounded) for vrrpd's profiles.
func saveProc(dir string, routers []benchkit.Router) error {
	for i, r := range routers {
		sub := filepath.Join(dir, []string{"master", "backup"}[i])
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		for _, pid := range r.PIDs() {
			for _, f := range []string{"smaps", "status"} {
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("%s.%d", f, pid)), b, 0o644); err != nil {
					return err
				}
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(sub, "goroutine.txt")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no profiles in %s: %s", sub, strings.TrimSpace(benchkit.Tail(r.Output(), 5)))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}
