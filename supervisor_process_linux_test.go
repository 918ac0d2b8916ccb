//go:build linux

package vigil_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/process"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorTrackProcess: an instance tracks a process (keepalived's
// vrrp_track_process, weight 0) through the kernel's process events: it
// starts only once the first scan counted the process, becomes master,
// enters FAULT when the process is killed and comes back when it runs
// again. Real processes: a sleep with a unique argument.
func TestSupervisorTrackProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		nstest.Unavailable(t, "process tracking needs root (the kernel's process connector): run go test as root")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		nstest.Unavailable(t, "no sleep program (apt-get install -y coreutils)")
	}
	// A duration no other process sleeps: the argument is its identity.
	arg := fmt.Sprintf("1000.%09d", rand.Uint64()%1e9)
	start := func() *exec.Cmd {
		c := exec.Command(sleep, arg)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	stop := func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }
	proc := start()
	defer func() { stop(proc) }()

	in := supInst("VI_1", 51, 100, vipX)
	in.VRRP.Interval = 100 * time.Millisecond
	in.Track = []vigil.Track{{Tracker: "app"}}
	cfg := vigil.Config{
		Trackers:  []vigil.Tracker{{Name: "app", Process: &process.Spec{Process: sleep, Params: []string{arg}}}},
		Instances: []vigil.Instance{in},
	}
	s, err := vigil.New(newMemPlatform(t, vrrptest.NewHub(1), 1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Subscribe(64)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	await := func(to string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-sub.C():
				if e.Kind == vigil.EventInstance && e.To.String() == to {
					return
				}
			case <-deadline:
				t.Fatalf("no transition to %s in 10 s", to)
			}
		}
	}
	await("MASTER")
	stop(proc)
	await("FAULT")
	if st := s.State(); len(st.Instances[0].Faults) != 1 || st.Instances[0].Faults[0] != "tracker:app" {
		t.Errorf("faults %q", st.Instances[0].Faults)
	}
	proc = start()
	await("BACKUP")
	await("MASTER")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
