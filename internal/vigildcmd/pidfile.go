package vigildcmd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrRunning is returned when a pid file names a live vigild or
// keepalived.
var ErrRunning = errors.New("daemon is already running")

// daemonNames are the processes whose live pid in a pid file stops
// vigild from starting.
var daemonNames = []string{"vigild", "keepalived"}

// A ProcLookup says whether process pid exists and its name (Linux:
// /proc/PID/comm); name is empty when it exists but cannot be named.
type ProcLookup func(pid int) (name string, alive bool)

// procByPid is the real ProcLookup.
func procByPid(pid int) (string, bool) {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return "", false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Gone between the two looks, or no /proc: kill says it lives.
			if _, serr := os.Stat("/proc/self"); serr == nil {
				return "", false
			}
		}
		return "", true
	}
	return strings.TrimSpace(string(b)), true
}

// pidFile is a pid file vigild wrote and holds (locked) until it exits.
type pidFile struct {
	path string
	f    *os.File
}

// writePidFiles writes pid into each of paths (a path given twice is
// written once), as keepalived does: the file created 0644, locked, then
// "PID\n". It refuses, with ErrRunning, a file that names another live
// vigild or keepalived, or that another process holds locked
// (keepalived locks its pid files); a file naming a dead process, or a
// live one by another name (its pid reused since: keepalived#1527), is
// stale and overwritten. On error it removes what it wrote.
func writePidFiles(paths []string, pid int, lookup ProcLookup, log *slog.Logger) ([]*pidFile, error) {
	var done []*pidFile
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		pf, err := writePidFile(p, pid, lookup, log)
		if err != nil {
			removePidFiles(done, log)
			return nil, err
		}
		done = append(done, pf)
	}
	return done, nil
}

func writePidFile(path string, pid int, lookup ProcLookup, log *slog.Logger) (*pidFile, error) {
	if b, err := os.ReadFile(path); err == nil {
		old, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr == nil && old > 0 && old != pid {
			name, alive := lookup(old)
			switch {
			case alive && (name == "" || isDaemon(name)):
				what := name
				if what == "" {
					what = "a process that cannot be named"
				}
				return nil, fmt.Errorf("%w: pid file %s names pid %d (%s)", ErrRunning, path, old, what)
			case alive:
				log.Warn("stale pid file: its pid now belongs to another program; overwriting",
					"file", path, "pid", old, "process", name)
			default:
				log.Info("stale pid file: its process is gone; overwriting", "file", path, "pid", old)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w: another process has pid file %s locked", ErrRunning, path)
		}
		return nil, fmt.Errorf("pid file %s: lock: %w", path, err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = fmt.Fprintf(f, "%d\n", pid)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	return &pidFile{path: path, f: f}, nil
}

func isDaemon(name string) bool {
	for _, n := range daemonNames {
		if name == n {
			return true
		}
	}
	return false
}

// removePidFiles removes the pid files vigild wrote.
func removePidFiles(pfs []*pidFile, log *slog.Logger) {
	for _, pf := range pfs {
		if err := os.Remove(pf.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Error("removing the pid file", "file", pf.path, "err", err)
		}
		pf.f.Close()
	}
}
