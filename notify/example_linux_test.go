package notify_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigil-ha/vigil/notify"
)

// A Runner runs the notifications of one instance in order, never making
// the caller wait.
func ExampleRunner() {
	r := notify.NewRunner(notify.Config{})
	events := r.Subscribe(10)

	// keepalived's: notify "/bin/echo vigil"
	script := &notify.Script{Args: []string{"/bin/echo", "vigil"}}
	for _, st := range []notify.State{notify.Master, notify.Backup} {
		r.Notify("instance VI_1", notify.Call{Script: script, Args: notify.InstanceArgs("VI_1", st, 100)})
	}
	r.Close() // run what is queued, then let Run return
	if err := r.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	for ev := range events.C() {
		fmt.Println(ev.Key, ev.Result.Argv, ev.Result)
	}
	// Output:
	// instance VI_1 [/bin/echo vigil INSTANCE VI_1 MASTER 100] exit status 0
	// instance VI_1 [/bin/echo vigil INSTANCE VI_1 BACKUP 100] exit status 0
}

// A FIFO carries keepalived's lines to a reader.
func ExampleFIFO() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	fifo, err := notify.OpenFIFO(notify.FIFOConfig{Path: filepath.Join(dir, "notify_fifo")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fifo.Close()

	// Lines written with nobody reading wait in the pipe.
	fifo.WriteLine(notify.InstanceLine("VI_1", notify.Master, 100))
	fifo.WriteLine(notify.GroupLine("G1", notify.Master))

	rd, _ := os.Open(fifo.Path())
	defer rd.Close()
	sc := bufio.NewScanner(rd)
	for range 2 {
		sc.Scan()
		fmt.Println(sc.Text())
	}
	// Output:
	// INSTANCE "VI_1" MASTER 100
	// GROUP "G1" MASTER 0
}
