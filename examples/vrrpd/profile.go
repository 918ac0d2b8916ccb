//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
)

// profiler writes the profiles -profile asks for: SIGUSR1 starts a CPU
// profile (DIR/cpu.pprof), SIGUSR2 stops it and writes the heap
// (DIR/heap.pprof, after a GC), the goroutines (DIR/goroutine.txt) and
// runtime.MemStats (DIR/memstats.json), so a benchmark profiles exactly
// its measurement window.
type profiler struct {
	dir string
	cpu *os.File
}

// startProfiler handles SIGUSR1 and SIGUSR2 until ctx is done (stop
// waits for that, and stops a CPU profile still running).
func startProfiler(ctx context.Context, dir string) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	runtime.MemProfileRate = 4096 // the heap is a few MiB: sample finely
	p := &profiler{dir: dir}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	var wg sync.WaitGroup
	var errs []error
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sig:
				var err error
				if s == syscall.SIGUSR1 {
					err = p.startCPU()
				} else {
					err = p.snapshot()
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
		}
	})
	return func() error {
		wg.Wait()
		signal.Stop(sig)
		if p.cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, p.cpu.Close())
		}
		return errors.Join(errs...)
	}, nil
}

func (p *profiler) startCPU() error {
	if p.cpu != nil {
		return nil
	}
	f, err := os.Create(filepath.Join(p.dir, "cpu.pprof"))
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	p.cpu = f
	return nil
}

func (p *profiler) snapshot() error {
	var errs []error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		errs = append(errs, p.cpu.Close())
		p.cpu = nil
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // before the GC below: the heap as it ran
	write := func(name string, fn func(*os.File) error) {
		f, err := os.Create(filepath.Join(p.dir, name))
		if err != nil {
			errs = append(errs, err)
			return
		}
		errs = append(errs, fn(f), f.Close())
	}
	write("memstats.json", func(f *os.File) error {
		e := json.NewEncoder(f)
		e.SetIndent("", "  ")
		return e.Encode(struct {
			runtime.MemStats
			Goroutines, GOMAXPROCS int
		}{ms, runtime.NumGoroutine(), runtime.GOMAXPROCS(0)})
	})
	runtime.GC()
	write("heap.pprof", func(f *os.File) error { return pprof.Lookup("heap").WriteTo(f, 0) })
	write("goroutine.txt", func(f *os.File) error { return pprof.Lookup("goroutine").WriteTo(f, 1) })
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("-profile: %w", err)
	}
	return nil
}
