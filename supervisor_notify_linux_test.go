//go:build linux

package vigil_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// scriptDir makes a directory scripts may run from (0755: script
// security) holding a script that appends its arguments, a line a call,
// to the file out; body, if not empty, is the script's own text instead,
// with OUTFILE standing for out.
func scriptDir(t *testing.T, body string) (dir, script, out string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "calls")
	script = filepath.Join(dir, "notify.sh")
	if body == "" {
		body = "#!/bin/sh\necho \"$@\" >> OUTFILE\n"
	}
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(body, "OUTFILE", out)), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, script, out
}

// TestSupervisorNotify: a sync group of one instance becomes master
// alone, then stops: the notify FIFO gets keepalived's lines in order,
// and the scripts run in order with keepalived's arguments (the state's
// script, then the generic one with INSTANCE|GROUP NAME STATE PRIORITY).
func TestSupervisorNotify(t *testing.T) {
	dir, script, out := scriptDir(t, "")
	sc := func(args ...string) *notify.Script { return &notify.Script{Args: append([]string{script}, args...)} }
	fifo := filepath.Join(dir, "fifo")
	in := supInst("VI_1", 51, 200, vipX)
	in.VRRP.Interval = 100 * time.Millisecond
	in.Notify = vigil.InstanceNotify{Master: sc("master"), Backup: sc("backup"), Stop: sc("stop"), Any: sc()}
	cfg := vigil.Config{
		Global:     vigil.Global{NotifyFIFO: &notify.FIFOConfig{Path: fifo}},
		Instances:  []vigil.Instance{in},
		SyncGroups: []vigil.SyncGroup{{Name: "G", Members: []string{"VI_1"}, Notify: vigil.GroupNotify{Any: sc()}}},
	}
	_, r, sub, _, cancel, done := runWithFIFO(t, cfg, fifo)
	defer cancel()
	for e := range sub.C() {
		if e.Kind == vigil.EventInstance && e.To.String() == "MASTER" {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := fifoLines(r)
	// The group's lines and the instance's are written as each reports;
	// per name, their order is the order of the states.
	wantGroup := []string{`GROUP "G" BACKUP 0`, `GROUP "G" MASTER 0`, `GROUP "G" STOP 0`}
	wantInst := []string{`INSTANCE "VI_1" BACKUP 200`, `INSTANCE "VI_1" MASTER 200`, `INSTANCE "VI_1" STOP 200`}
	var gotGroup, gotInst []string
	for _, l := range lines {
		if strings.HasPrefix(l, "GROUP") {
			gotGroup = append(gotGroup, l)
		} else {
			gotInst = append(gotInst, l)
		}
	}
	if !slices.Equal(gotGroup, wantGroup) || !slices.Equal(gotInst, wantInst) {
		t.Errorf("fifo lines %q\nwant %q and %q", lines, wantGroup, wantInst)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var gotI, gotG []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "GROUP") {
			gotG = append(gotG, l)
		} else {
			gotI = append(gotI, l)
		}
	}
	wantI := []string{"backup", "INSTANCE VI_1 BACKUP 200", "master", "INSTANCE VI_1 MASTER 200", "stop", "INSTANCE VI_1 STOP 200"}
	wantG := []string{"GROUP G BACKUP 0", "GROUP G MASTER 0", "GROUP G STOP 0"}
	if !slices.Equal(gotI, wantI) || !slices.Equal(gotG, wantG) {
		t.Errorf("script calls %q %q\nwant %q %q", gotI, gotG, wantI, wantG)
	}
	if _, err := os.Stat(fifo); !os.IsNotExist(err) {
		t.Errorf("the FIFO vigil created is still there: %v", err)
	}
}

// TestSupervisorReloadRemovalNotifies: a reload removes two masters: one
// reports FAULT (keepalived's default), the one with notify_deleted
// DELETED; neither reports STOP.
func TestSupervisorReloadRemovalNotifies(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mk := func(name string, vrid uint8) vigil.Instance {
		in := supInst(name, vrid, 100, netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", vrid)))
		in.VRRP.Interval = 100 * time.Millisecond
		return in
	}
	keep, gone, del := mk("VI_1", 11), mk("VI_2", 12), mk("VI_3", 13)
	del.Notify.SendDeleted = true
	cfg := vigil.Config{Global: vigil.Global{NotifyFIFO: &notify.FIFOConfig{Path: fifo}},
		Instances: []vigil.Instance{keep, gone, del}}
	s, r, sub, ctx, cancel, done := runWithFIFO(t, cfg, fifo)
	defer cancel()
	masters := 0
	for e := range sub.C() {
		if e.Kind == vigil.EventInstance && e.To.String() == "MASTER" {
			if masters++; masters == 3 {
				break
			}
		}
	}
	next := cfg
	next.Instances = []vigil.Instance{keep}
	ch, err := s.Reload(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.InstancesRemoved, []string{"VI_2", "VI_3"}) {
		t.Errorf("removed %q", ch.InstancesRemoved)
	}
	stopped := 0
	for e := range sub.C() {
		if e.Kind == vigil.EventInstance && e.To.String() == "STOPPED" {
			if stopped++; stopped == 2 {
				break
			}
		}
	}
	if st := s.State(); len(st.Instances) != 1 || st.Instances[0].Name != "VI_1" {
		t.Errorf("instances after the reload: %+v", st.Instances)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range fifoLines(r) {
		if !strings.Contains(l, "BACKUP") && !strings.Contains(l, "MASTER") {
			got = append(got, l)
		}
	}
	slices.Sort(got)
	want := []string{`INSTANCE "VI_1" STOP 100`, `INSTANCE "VI_2" FAULT 100`, `INSTANCE "VI_3" DELETED 100`}
	if !slices.Equal(got, want) {
		t.Errorf("fifo lines other than BACKUP and MASTER: %q, want %q", got, want)
	}
}

// TestSupervisorNotifyPriorityChanges: with notify_priority_changes, a
// master whose weighted tracker fails writes INSTANCE "VI_1"
// MASTER_PRIORITY 80 to the FIFO, and the recovery MASTER_PRIORITY 100.
func TestSupervisorNotifyPriorityChanges(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	var chk flag
	in := supInst("VI_1", 51, 100, vipX)
	in.VRRP.Interval = 100 * time.Millisecond
	in.Track = []vigil.Track{{Tracker: "chk"}}
	tr := checkTracker("chk", &chk, -20)
	tr.Check.Policy.Interval = 50 * time.Millisecond
	cfg := vigil.Config{Global: vigil.Global{VRRPNotifyFIFO: &notify.FIFOConfig{Path: fifo}, NotifyPriorityChanges: true},
		Trackers: []vigil.Tracker{tr}, Instances: []vigil.Instance{in}}
	_, r, sub, _, cancel, done := runWithFIFO(t, cfg, fifo)
	defer cancel()
	prios := 0
	for e := range sub.C() {
		switch {
		case e.Kind == vigil.EventInstance && e.To.String() == "MASTER":
			chk.down.Store(true)
		case e.Kind == vigil.EventPriority:
			if prios++; prios == 1 {
				chk.down.Store(false)
			}
		}
		if prios == 2 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range fifoLines(r) {
		if strings.Contains(l, "PRIORITY") {
			got = append(got, l)
		}
	}
	want := []string{`INSTANCE "VI_1" MASTER_PRIORITY 80`, `INSTANCE "VI_1" MASTER_PRIORITY 100`}
	if !slices.Equal(got, want) {
		t.Errorf("priority lines %q, want %q", got, want)
	}
}

// runWithFIFO runs a Supervisor for cfg in memory with a non-blocking
// reader of its notify FIFO at fifo opened before Run, and a
// subscription to its events.
func runWithFIFO(t *testing.T, cfg vigil.Config, fifo string) (*vigil.Supervisor, *os.File, *vigil.Subscription, context.Context, context.CancelFunc, chan error) {
	t.Helper()
	s, err := vigil.New(newMemPlatform(t, vrrptest.NewHub(1), 1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	sub := s.Subscribe(64)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, r, sub, ctx, cancel, done
}

// fifoLines reads what the FIFO holds now (r is non-blocking), as lines.
func fifoLines(r *os.File) []string {
	buf := make([]byte, 4096)
	n, _ := r.Read(buf)
	return strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
}
