//go:build linux

package benchkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const ClockTick = 10 * time.Millisecond

// CPUTicks returns utime+stime of pid (all its threads, live and ended)
// from /proc/PID/stat, in clock ticks.
func CPUTicks(pid int) (int64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return ut + st, nil
}

// Faults returns the minor and major page faults of pid (all its
// threads, live and ended) from /proc/PID/stat. A minor fault maps a
// page the process touches for the first time since it was mapped or
// given back (on a VM with shadow page tables, 10 µs each and more:
// bench/README.md); a major one waits for the page to be read from
// disk: a page of the binary the kernel had reclaimed.
func Faults(pid int) (minor, major int64, err error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, 0, err
	}
	minor, err1 := strconv.ParseInt(f[7], 10, 64)
	major, err2 := strconv.ParseInt(f[9], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: minflt %q majflt %q", pid, f[7], f[9])
	}
	return minor, major, nil
}

// statFields returns the fields of /proc/PID/stat from the third (state)
// on: field n of proc(5) is element n-3.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// SchedRuntime returns the time pid's live threads have spent on a CPU,
// from /proc/PID/task/*/schedstat (nanoseconds; threads that have ended
// are not counted).
func SchedRuntime(pid int) (time.Duration, error) {
	ns, err := schedstatSum(pid, 0)
	return time.Duration(ns), err
}

// SchedSlices returns how many times pid's live threads have been put
// on a CPU (the third field of /proc/PID/task/*/schedstat): about one a
// wake-up.
func SchedSlices(pid int) (int64, error) { return schedstatSum(pid, 2) }

// schedstatSum sums field i of pid's live threads' schedstat.
func schedstatSum(pid, i int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("/proc/%d/task/*/schedstat: none (%v)", pid, err)
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) <= i {
			continue
		}
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q", t, b)
		}
		sum += n
	}
	return sum, nil
}

// Memory is a process's resident memory, in KiB.
type Memory struct {
	RSS, HWM, PSS int64
	Threads       int
}

// ReadMemory returns VmRSS, VmHWM and Threads from /proc/PID/status and
// Pss from /proc/PID/smaps_rollup.
func ReadMemory(pid int) (Memory, error) {
	var m Memory
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.RSS = v
		case "VmHWM:":
			m.HWM = v
		case "Threads:":
			m.Threads = int(v)
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
				m.PSS, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, nil
}
