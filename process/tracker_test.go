package process

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeKernel hands out fakeConns and numbers the events it sends on
// them as the kernel does, per CPU (all on CPU 0).
type fakeKernel struct {
	mu    sync.Mutex
	dials []int // the receive buffer asked for, by dial
	conn  *fakeConn
	seq   uint32
	fail  error // the error of the next dials
}

type fakeRead struct {
	b   []byte
	err error
}

type fakeConn struct {
	reads  chan fakeRead
	closed chan struct{}
	once   sync.Once
}

func (c *fakeConn) read() ([]byte, error) {
	select {
	case r := <-c.reads:
		return r.b, r.err
	case <-c.closed:
		return nil, net.ErrClosed
	}
}

func (c *fakeConn) close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (k *fakeKernel) dial(rcvbuf int) (conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dials = append(k.dials, rcvbuf)
	if k.fail != nil {
		return nil, k.fail
	}
	k.conn = &fakeConn{reads: make(chan fakeRead, 64), closed: make(chan struct{})}
	return k.conn, nil
}

func (k *fakeKernel) nDials() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.dials)
}

// send queues ev on the current connection with the next sequence
// number.
func (k *fakeKernel) send(ev event) {
	k.mu.Lock()
	ev.seq = k.seq
	k.seq++
	c := k.conn
	k.mu.Unlock()
	select {
	case c.reads <- fakeRead{b: marshal(ev)}:
	case <-c.closed: // lost with the socket, as in the kernel
	}
}

// lose makes the next n events go missing.
func (k *fakeKernel) lose(n uint32) {
	k.mu.Lock()
	k.seq += n
	k.mu.Unlock()
}

func (k *fakeKernel) overflow() {
	k.mu.Lock()
	c := k.conn
	k.mu.Unlock()
	c.reads <- fakeRead{err: errLost}
}

func exec_(pid int32) event { return event{kind: evExec, pid: pid, tgid: pid} }
func exit(pid int32) event  { return event{kind: evExit, pid: pid, tgid: pid} }
func comm(pid int32) event  { return event{kind: evComm, pid: pid, tgid: pid} }
func fork(parent, child int32) event {
	return event{kind: evFork, ppid: parent, ptgid: parent, pid: child, tgid: child}
}

// harness runs a Tracker over a fake kernel and a fake /proc inside a
// synctest bubble.
type harness struct {
	t    *testing.T
	k    *fakeKernel
	proc *fakeProc
	tr   *Tracker
	sub  *Subscription
	stop func() error
}

func start(t *testing.T, cfg Config, setup func(p *fakeProc)) *harness {
	t.Helper()
	h := &harness{t: t, k: &fakeKernel{}, proc: newFakeProc(t)}
	if setup != nil {
		setup(h.proc)
	}
	cfg.ProcRoot = h.proc.root
	tr, err := newTracker(cfg, h.k.dial)
	if err != nil {
		t.Fatal(err)
	}
	h.tr, h.sub = tr, tr.Subscribe(64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	h.stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { h.stop() })
	synctest.Wait()
	return h
}

// next returns the next Change, waiting (in virtual time) for it.
func (h *harness) next() Change {
	h.t.Helper()
	c, ok := <-h.sub.C()
	if !ok {
		h.t.Fatal("subscription closed")
	}
	return c
}

// none checks that no Change is queued once everything has settled.
func (h *harness) none() {
	h.t.Helper()
	synctest.Wait()
	select {
	case c := <-h.sub.C():
		h.t.Fatalf("unexpected change %+v", c)
	default:
	}
}

func (h *harness) status(i int) Status { return h.tr.Status()[i] }

func TestTrackerInitial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{
			{Name: "web", Process: "nginx", Quorum: 2, ForkDelay: time.Hour},
			{Name: "none", Process: "nginx", QuorumMax: -1, TerminateDelay: time.Hour},
			{Name: "args", Process: "/usr/bin/x", Params: []string{"a"}},
		}}, func(p *fakeProc) {
			p.add(10, "nginx", 'S', "nginx: master")
			p.add(11, "nginx", 'S', "nginx: worker")
			p.add(12, "x", 'S', "/usr/bin/x", "a")
			p.add(13, "x", 'S', "/usr/bin/x", "b")
		})
		// The first scan publishes every state at once, delays or not.
		want := []Change{
			{Name: "web", State: StateUp, Count: 2, Initial: true},
			{Name: "none", State: StateDown, Count: 2, Initial: true},
			{Name: "args", State: StateUp, Count: 1, Initial: true},
		}
		for _, w := range want {
			if c := h.next(); c != w {
				t.Errorf("got %+v, want %+v", c, w)
			}
		}
		h.none()
		if st := h.tr.Stats(); st.Scans != 1 || st.Changes != 3 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestTrackerStatusBeforeRun(t *testing.T) {
	k := &fakeKernel{}
	tr, err := newTracker(Config{Specs: []Spec{{Name: "a", Process: "a"}}}, k.dial)
	if err != nil {
		t.Fatal(err)
	}
	if st := tr.Status(); len(st) != 1 || st[0] != (Status{Name: "a"}) {
		t.Fatalf("status %+v", st)
	}
	if len(k.dials) != 1 || k.dials[0] != DefaultReceiveBuffer {
		t.Fatalf("dials %v", k.dials)
	}
	k.conn.close()
	k.fail = ErrPermission
	if _, err := newTracker(Config{Specs: []Spec{{Name: "a", Process: "a"}}}, k.dial); !errors.Is(err, ErrPermission) {
		t.Fatalf("dial failure: %v", err)
	}
}

// TestTrackerDelays checks ForkDelay and TerminateDelay at exact virtual
// times, and that a restart within TerminateDelay publishes nothing.
func TestTrackerDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{
			{Name: "d", Process: "daemon", ForkDelay: 2 * time.Second, TerminateDelay: 3 * time.Second},
		}}, nil)
		if c := h.next(); c.State != StateDown || !c.Initial {
			t.Fatalf("initial %+v", c)
		}

		t0 := time.Now()
		h.proc.add(100, "daemon", 'S')
		h.k.send(exec_(100))
		synctest.Wait()
		if st := h.status(0); st.Count != 1 || st.State != StateDown || !st.Pending || !st.Until.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("during the fork delay: %+v", st)
		}
		if c := h.next(); c != (Change{Name: "d", State: StateUp, Count: 1}) || time.Since(t0) != 2*time.Second {
			t.Fatalf("got %+v after %v, want up after 2s", c, time.Since(t0))
		}

		t1 := time.Now()
		h.proc.remove(100)
		h.k.send(exit(100))
		if c := h.next(); c != (Change{Name: "d", State: StateDown, Count: 0}) || time.Since(t1) != 3*time.Second {
			t.Fatalf("got %+v after %v, want down after 3s", c, time.Since(t1))
		}

		// Up again, then a restart 1s into the terminate delay.
		h.proc.add(101, "daemon", 'S')
		h.k.send(exec_(101))
		if c := h.next(); c.State != StateUp {
			t.Fatalf("got %+v", c)
		}
		h.proc.remove(101)
		h.k.send(exit(101))
		time.Sleep(time.Second)
		h.proc.add(102, "daemon", 'S')
		h.k.send(fork(1, 102))
		time.Sleep(time.Hour)
		h.none()
		if st := h.status(0); st.State != StateUp || st.Count != 1 || st.Pending {
			t.Fatalf("after the restart: %+v", st)
		}
		// A flap within the fork delay: nothing either.
		h.proc.remove(102)
		h.k.send(exit(102))
		if c := h.next(); c.State != StateDown {
			t.Fatalf("got %+v", c)
		}
		h.proc.add(103, "daemon", 'S')
		h.k.send(exec_(103))
		time.Sleep(time.Second)
		h.proc.remove(103)
		h.k.send(exit(103))
		time.Sleep(time.Hour)
		h.none()
	})
}

// TestTrackerQuorumMax checks a window [2, 3] from both sides.
func TestTrackerQuorumMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{{Name: "w", Process: "worker", Quorum: 2, QuorumMax: 3}}}, nil)
		h.next()
		var got []Change
		for pid := int32(1); pid <= 4; pid++ {
			h.proc.add(pid, "worker", 'S')
			h.k.send(fork(1000, pid))
			synctest.Wait() // read before the next change of /proc
		}
		for pid := int32(4); pid >= 1; pid-- {
			h.proc.remove(pid)
			h.k.send(exit(pid))
		}
		synctest.Wait()
		for len(h.sub.C()) > 0 {
			got = append(got, h.next())
		}
		want := []Change{
			{Name: "w", State: StateUp, Count: 2},
			{Name: "w", State: StateDown, Count: 4},
			{Name: "w", State: StateUp, Count: 3},
			{Name: "w", State: StateDown, Count: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("change %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// TestTrackerRaces feeds events late, as a busy tracker reads them: /proc
// already shows what happened after them.
func TestTrackerRaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{
			{Name: "d", Process: "daemon"},
			{Name: "o", Process: "other"},
		}}, nil)
		h.next()
		h.next()

		// A daemon that double-forks: its first two processes are gone
		// before their events are read; the grandchild runs. keepalived
		// reads the exec'd process, finds it gone, and then ignores its
		// children as children of an untracked process.
		h.proc.add(202, "daemon", 'S')
		for _, ev := range []event{fork(1, 200), exec_(200), fork(200, 201), exit(200), fork(201, 202), exit(201)} {
			h.k.send(ev)
		}
		if c := h.next(); c != (Change{Name: "d", State: StateUp, Count: 1}) {
			t.Fatalf("double fork: %+v", c)
		}

		// Threads of a counted process neither count nor uncount it.
		h.k.send(event{kind: evFork, ppid: 202, ptgid: 202, pid: 203, tgid: 202})
		h.k.send(event{kind: evExit, pid: 203, tgid: 202})
		synctest.Wait()
		if st := h.status(0); st.Count != 1 {
			t.Fatalf("after a thread: %+v", st)
		}

		// The daemon exits and its PID is reused at once by another
		// program before the exit is read: the exit removes it, the
		// fork reads the new program.
		h.proc.remove(202)
		h.proc.add(202, "other", 'S')
		h.k.send(exit(202))
		h.k.send(fork(1, 202))
		if c := h.next(); c != (Change{Name: "d", State: StateDown, Count: 0}) {
			t.Fatalf("pid reuse: %+v", c)
		}
		if c := h.next(); c != (Change{Name: "o", State: StateUp, Count: 1}) {
			t.Fatalf("pid reuse: %+v", c)
		}

		// A new name (prctl PR_SET_NAME, or a write to /proc/PID/comm).
		h.proc.add(202, "daemon", 'S')
		h.k.send(comm(202))
		if c := h.next(); c != (Change{Name: "d", State: StateUp, Count: 1}) {
			t.Fatalf("comm: %+v", c)
		}
		if c := h.next(); c != (Change{Name: "o", State: StateDown, Count: 0}) {
			t.Fatalf("comm: %+v", c)
		}

		// The exit event comes before the process is a zombie: /proc
		// may still show it running when the event is read.
		h.k.send(exit(202))
		if c := h.next(); c != (Change{Name: "d", State: StateDown, Count: 0}) {
			t.Fatalf("exit of a process still in /proc: %+v", c)
		}
		h.k.send(fork(1, 202)) // then it is read again only on a new event
		h.next()

		// A zombie is not counted: its exec event read late sees Z.
		h.proc.add(300, "daemon", 'Z')
		h.k.send(exec_(300))
		synctest.Wait()
		if st := h.status(0); st.Count != 1 {
			t.Fatalf("zombie counted: %+v", st)
		}
		if st := h.tr.Stats(); st.Events != 12 || st.Lost != 0 || st.Resyncs != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestTrackerResyncOnGap loses events: a gap in the sequence numbers
// closes the socket, and a new socket and scan, no sooner than a second
// after the last scan, find what the lost events said.
func TestTrackerResyncOnGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := start(t, Config{Specs: []Spec{{Name: "d", Process: "daemon"}}}, func(p *fakeProc) {
			p.add(10, "daemon", 'S')
		})
		h.next()
		h.k.send(exec_(99)) // sets the sequence: a gap needs an event before it
		h.proc.remove(10)
		h.k.lose(1) // its exit
		h.k.send(fork(1, 11))
		synctest.Wait()
		if st := h.status(0); st.State != StateUp || st.Count != 1 {
			t.Fatalf("while resyncing: %+v (states stay)", st)
		}
		if c := h.next(); c != (Change{Name: "d", State: StateDown, Count: 0}) || time.Since(t0) != time.Second {
			t.Fatalf("got %+v after %v, want down after the resync at 1s", c, time.Since(t0))
		}
		st := h.tr.Stats()
		if st.Lost != 1 || st.Resyncs != 1 || st.Scans != 2 || h.k.nDials() != 2 {
			t.Fatalf("stats %+v, dials %d", st, h.k.nDials())
		}
		// The new socket works; its first event sets the sequence anew.
		h.proc.add(12, "daemon", 'S')
		h.k.lose(5)
		h.k.send(exec_(12))
		if c := h.next(); c.State != StateUp || h.tr.Stats().Resyncs != 1 {
			t.Fatalf("after the resync: %+v %+v", c, h.tr.Stats())
		}
	})
}

// TestTrackerOverflow: the kernel reports a full buffer; the Tracker
// reopens with a doubled buffer, retrying each second while the socket
// cannot be opened.
func TestTrackerOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{{Name: "d", Process: "daemon"}}, ReceiveBuffer: 1000}, nil)
		h.next()
		time.Sleep(10 * time.Second)
		t0 := time.Now()
		h.k.mu.Lock()
		h.k.fail = errors.New("no memory")
		h.k.mu.Unlock()
		h.k.overflow()
		synctest.Wait()
		time.Sleep(2500 * time.Millisecond) // tries at 0s, 1s, 2s
		h.k.mu.Lock()
		h.k.fail = nil
		h.k.mu.Unlock()
		h.proc.add(5, "daemon", 'S')
		if c := h.next(); c.State != StateUp || time.Since(t0) != 3*time.Second {
			t.Fatalf("got %+v after %v, want up at the 4th try, 3s", c, time.Since(t0))
		}
		h.k.mu.Lock()
		dials := h.k.dials
		h.k.mu.Unlock()
		if len(dials) != 5 || dials[0] != 1000 || dials[1] != 2000 || dials[4] != 2000 {
			t.Fatalf("dials %v", dials)
		}
		if st := h.tr.Stats(); st.Overflows != 1 || st.Errors != 3 || st.Resyncs != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestTrackerAcks: other listeners' acks come to every listener. Those
// numbered like events (Linux 5.x and later) continue the sequence;
// those that carry their request's number (older kernels) are ignored.
func TestTrackerAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{{Name: "d", Process: "daemon"}}}, nil)
		h.next()
		h.k.send(exec_(1))
		h.k.send(event{kind: evAck, ack: 5})                                            // numbered like an event
		h.k.conn.reads <- fakeRead{b: marshal(event{kind: evAck, seq: 999999, ack: 7})} // its request's number
		h.k.send(exec_(2))
		synctest.Wait()
		if st := h.tr.Stats(); st.Lost != 0 || st.Resyncs != 0 || st.Events != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestTrackerMalformed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{{Name: "d", Process: "daemon"}}}, nil)
		h.next()
		h.k.conn.reads <- fakeRead{b: []byte{1, 2, 3}}
		synctest.Wait()
		if st := h.tr.Stats(); st.Malformed != 1 || st.Resyncs != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestTrackerRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{Specs: []Spec{{Name: "d", Process: "daemon"}}}, nil)
		if err := h.tr.Run(context.Background()); !errors.Is(err, ErrRan) {
			t.Fatalf("second Run while running: %v", err)
		}
		if err := h.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := h.tr.Run(context.Background()); !errors.Is(err, ErrRan) {
			t.Fatalf("Run after Run: %v", err)
		}
		h.next() // the initial change is still delivered
		if _, ok := <-h.sub.C(); ok {
			t.Fatal("subscription open after Run")
		}
		if _, ok := <-h.tr.Subscribe(1).C(); ok {
			t.Fatal("late subscription open")
		}
		select {
		case <-h.k.conn.closed:
		default:
			t.Fatal("socket left open")
		}
	})
}

func TestTrackerFirstScanFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &fakeKernel{}
		tr, err := newTracker(Config{Specs: []Spec{{Name: "d", Process: "d"}}, ProcRoot: filepath.Join(t.TempDir(), "none")}, k.dial)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Run(context.Background()); err == nil {
			t.Fatal("Run without /proc succeeded")
		}
		select {
		case <-k.conn.closed:
		default:
			t.Fatal("socket left open")
		}
	})
}
