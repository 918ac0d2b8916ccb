package notify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestRunnerOrderReal: bursts on two keys, with real scripts whose
// durations vary, run in order per key.
func TestRunnerOrderReal(t *testing.T) {
	dir := t.TempDir()
	// Odd numbers take longer: run at once, they would finish out of
	// order.
	s := &Script{Args: []string{writeScript(t, dir, "n.sh", `case $2 in *[13579]) sleep 0.05;; esac
echo "$2" >> "$1"`)}}
	r := NewRunner(Config{QueueLen: -1})
	sub := r.Subscribe(1000)
	const n = 20
	for _, key := range []string{"A", "B"} {
		for i := range n {
			if err := r.Notify(key, Call{Script: s, Args: []string{filepath.Join(dir, key), strconv.Itoa(i)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.Close()
	if err := r.Run(testCtx(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, strconv.Itoa(i))
	}
	for _, key := range []string{"A", "B"} {
		if got := lines(readFile(t, filepath.Join(dir, key))); !slices.Equal(got, want) {
			t.Errorf("%s ran %q", key, got)
		}
	}
	next := map[string]int{}
	for ev := range sub.C() {
		if ev.Err != nil || !ev.Result.OK() || ev.Result.Argv[2] != strconv.Itoa(next[ev.Key]) {
			t.Errorf("event %+v, want number %d", ev, next[ev.Key])
		}
		next[ev.Key]++
	}
	if s := r.Stats(); s.Runs != 2*n || s.Failed != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestRunnerDropsReal: while the first notification's script is held,
// a burst overflows the queue; the newest two run after it.
func TestRunnerDropsReal(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	s := &Script{Args: []string{writeScript(t, dir, "n.sh", `[ "$1" = 0 ] && read x < '`+gate+`'
echo "$1" >> '`+out+`'`)}}
	r := NewRunner(Config{QueueLen: 2})
	ctx := testCtx(t, time.Minute)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if err := r.Notify("A", Call{Script: s, Args: []string{"0"}}); err != nil {
		t.Fatal(err)
	}
	// Opening the gate for writing waits until script 0 reads it: then
	// it runs, and the rest queue behind it.
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(gate, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	var g *os.File
	select {
	case g = <-opened:
	case <-ctx.Done():
		t.Fatal("script 0 never started")
	}
	for i := 1; i <= 6; i++ {
		if err := r.Notify("A", Call{Script: s, Args: []string{strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.Stats(); st.Dropped != 4 || st.Waiting != 2 || st.Running != 1 {
		t.Errorf("stats while held: %+v", st)
	}
	g.WriteString("go\n")
	g.Close()
	r.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := lines(readFile(t, out)); !slices.Equal(got, []string{"0", "5", "6"}) {
		t.Errorf("ran %q, want 0 5 6", got)
	}
}

// TestRunnerCancelReal: the end of Run's context kills the running
// script's process group, and Run returns once it is reaped.
func TestRunnerCancelReal(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	s := &Script{Args: []string{writeScript(t, dir, "n.sh", `echo $$ > '`+pidFile+`.tmp'; mv '`+pidFile+`.tmp' '`+pidFile+`'
exec sleep 1000`)}}
	r := NewRunner(Config{})
	sub := r.Subscribe(10)
	ctx, cancel := context.WithCancel(testCtx(t, time.Minute))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for i := range 3 {
		if err := r.Notify("A", Call{Script: s, Args: []string{fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait (bounded) for the first script to have started.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("script never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pid := readPID(t, pidFile)
	if !gone(pid) {
		t.Errorf("script %d still running after Run returned", pid)
	}
	ev := <-sub.C()
	if !ev.Result.Canceled || ev.Result.Signal != syscall.SIGTERM || ev.Result.PID != pid {
		t.Errorf("event %+v", ev)
	}
	if st := r.Stats(); st.Canceled != 2 || st.Runs != 1 || st.Failed != 1 {
		t.Errorf("stats %+v", st)
	}
}
