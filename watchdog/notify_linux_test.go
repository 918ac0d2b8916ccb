package watchdog

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// notifySocket is a stand-in for systemd's notification socket: a
// unixgram socket in a temporary directory.
type notifySocket struct {
	t    *testing.T
	path string
	c    *net.UnixConn
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &notifySocket{t, path, c}
}

// read returns the datagrams queued now, without waiting (a read that
// waited would not be durably blocking for synctest).
func (s *notifySocket) read() []string {
	s.t.Helper()
	rc, err := s.c.SyscallConn()
	if err != nil {
		s.t.Fatal(err)
	}
	var got []string
	buf := make([]byte, 256)
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true
		}); err != nil {
			s.t.Fatal(err)
		}
		if errors.Is(rerr, syscall.EAGAIN) {
			return got
		}
		if rerr != nil {
			s.t.Fatal(rerr)
		}
		got = append(got, string(buf[:n]))
	}
}

// WATCHDOG=1 is sent at start and every half interval while every loop
// beats, withheld while one is stalled, and sent again once it beats.
func TestNotifyWatchdog(t *testing.T) {
	sock := listenNotify(t)
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: 2 * time.Second, NotifySocket: sock.path})
		start := time.Now()
		run(t, w)
		b := w.Register("vrrp", time.Second)
		beatUntil(b, 100*time.Millisecond, start.Add(1500*time.Millisecond))

		// Pings are due every second. The loop is silent from 1.5s: not
		// beating within its deadline from 2.5s on, found stalled at 2.75s.
		want := []int{1, 1, 1, 0, 0, 0, 1, 1}
		for i, n := range want {
			if i == 6 {
				time.Sleep(500 * time.Millisecond) // 5.5s: beating again
				b.Beat()
				beatUntil(b, 100*time.Millisecond, start.Add(7*time.Second))
				time.Sleep(500 * time.Millisecond)
			} else if i > 0 {
				time.Sleep(time.Second)
			}
			synctest.Wait()
			got := sock.read()
			if len(got) != n || (n == 1 && got[0] != "WATCHDOG=1") {
				t.Errorf("at %v: sent %q, want %d WATCHDOG=1", time.Since(start), got, n)
			}
		}
		if s := w.Stats(); s.Pings != 5 || s.Withheld != 3 || s.NotifyErrors != 0 {
			t.Fatalf("stats %+v, want 5 pings, 3 withheld", s)
		}
		b.Done()
	})
}

// A guarded loop stuck in a call that ignores its ctx keeps Guard
// waiting, with Abandon negative, and WATCHDOG=1 withheld, so that
// systemd kills the process.
func TestNotifyStuckGuard(t *testing.T) {
	sock := listenNotify(t)
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: 2 * time.Second, NotifySocket: sock.path})
		run(t, w)
		release := make(chan struct{})
		done := make(chan error)
		go func() {
			done <- w.Guard(t.Context(), "checker", Policy{Deadline: time.Second, Abandon: -1}, func(context.Context, *Beat) error {
				<-release // a blocked syscall
				return nil
			})
		}()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := sock.read(); len(got) != 2 { // at 0s and 1s
			t.Fatalf("sent %q, want 2 WATCHDOG=1 before the stall", got)
		}
		if s := w.Stats(); s.Stalled != 1 || s.Loops != 1 || s.Withheld != 9 {
			t.Fatalf("stats %+v, want the loop stalled and 9 pings withheld", s)
		}
		close(release)
		<-done
	})
}

// With a zero WatchdogInterval, New reads WATCHDOG_USEC and WATCHDOG_PID,
// and notifications go to NOTIFY_SOCKET.
func TestNotifyEnvironment(t *testing.T) {
	sock := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", sock.path)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{})
		if d := w.WatchdogInterval(); d != 3*time.Second {
			t.Fatalf("interval %v, want 3s", d)
		}
		if err := w.Ready(); err != nil {
			t.Fatal(err)
		}
		run(t, w)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if err := w.Stopping(); err != nil {
			t.Fatal(err)
		}
		got := sock.read()
		if want := []string{"READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"}; !slices.Equal(got, want) {
			t.Fatalf("sent %q, want %q", got, want)
		}
	})

	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if w := newWatchdog(t, Config{}); w.WatchdogInterval() != 0 {
		t.Fatalf("interval %v for another process's watchdog, want 0", w.WatchdogInterval())
	}
	t.Setenv("WATCHDOG_PID", "")
	t.Setenv("WATCHDOG_USEC", "soon")
	if _, err := New(Config{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad WATCHDOG_USEC: %v, want ErrInvalid", err)
	}
	if _, err := New(Config{WatchdogInterval: -1}); err != nil {
		t.Fatalf("WatchdogInterval < 0 must not read the environment: %v", err)
	}
}

// A notification to a socket nobody listens on fails, is counted, and
// does not stop Run.
func TestNotifyError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nobody")
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: 2 * time.Second, NotifySocket: path})
		run(t, w)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if s := w.Stats(); s.NotifyErrors != 2 || s.Pings != 0 {
			t.Fatalf("stats %+v, want 2 errors", s)
		}
		if sent, err := w.Notify("STATUS=x"); sent || err == nil {
			t.Fatalf("Notify: %v %v, want an error", sent, err)
		}
	})
}
