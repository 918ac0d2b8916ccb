//go:build linux

package vigil_test

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/watchdog"
)

// stallingLinux is the Linux platform whose instances' first
// announcement blocks, ignoring its context, until release: a router
// stuck as it becomes master. (Not an address call: the instance's
// address manager is shared by its routers, one call at a time, and a
// call stuck in it holds up the successor too.)
type stallingLinux struct {
	*vigil.Linux
	release chan struct{}
	once    sync.Once
}

func (p *stallingLinux) Instance(ic vigil.InstanceConfig) (vigil.InstanceIO, error) {
	io, err := p.Linux.Instance(ic)
	io.Announcer = &stallingAnnouncer{Announcer: io.Announcer, p: p}
	return io, err
}

type stallingAnnouncer struct {
	vrrp.Announcer
	p *stallingLinux
}

func (a *stallingAnnouncer) Announce(ctx context.Context, addrs []netip.Addr) error {
	first := false
	a.p.once.Do(func() { first = true })
	if first {
		<-a.p.release
	}
	return a.Announcer.Announce(ctx, addrs)
}

// A router on the Linux platform stalls as it becomes master: the
// watchdog cuts it off by closing its raw socket's Conn, and its
// successor runs on a Conn the platform reopened on the same socket:
// it holds the VIP and advertises every interval, through its socket's
// repeats (the Supervisor's routers use SocketConn's fast paths). When
// the stuck call returns, the cut-off router reaches neither the wire
// (no priority 0 advert) nor the Supervisor.
func TestSupervisorNetnsReopen(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	ha, hb := seg.Hosts[0], seg.Hosts[1]
	logb := &nstest.Buffer{}
	log := slog.New(slog.NewTextHandler(logb, nil))
	l, err := vigil.OpenLinux(vigil.LinuxConfig{Netns: ha.Path(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingLinux{Linux: l, release: make(chan struct{})}
	released := false
	cfg := vigil.Config{Instances: []vigil.Instance{netnsInst("VI_4", 51, 150, vip4)}, Logger: log,
		Watchdog: vigil.Watchdog{Deadline: time.Second, Systemd: -1,
			Restart: watchdog.Policy{Backoff: 100 * time.Millisecond, Abandon: 300 * time.Millisecond}}}
	s, err := vigil.New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}

	// B listens: every advert for VRID 51, with its priority and time.
	sock, err := vrrp.Listen(vrrp.SocketConfig{Interface: hb.Link, Netns: hb.Path()})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	conn, err := sock.Conn(51, vrrp.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	type heard struct {
		at   time.Time
		prio uint8
	}
	var mu sync.Mutex
	var got []heard
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		b := make([]byte, 1500)
		for {
			n, info, err := conn.ReadAdvert(context.Background(), b)
			if err != nil {
				return
			}
			if a, err := vrrp.Parse(b[:n], info.Src, info.Dst); err == nil && info.Src == ha.Addr4.Addr() {
				mu.Lock()
				got = append(got, heard{info.Time, a.Priority})
				mu.Unlock()
			}
		}
	}()
	defer func() { sock.Close(); <-listening }()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		if !released {
			close(p.release)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logb)
		}
	}()

	sockStats := func() vrrp.SocketStats {
		return s.Stats().Sockets[vigil.SocketName{Interface: ha.Link, Family: "ipv4"}]
	}
	eventually(t, "the restarted router's VIP and its socket's repeats", netnsWait, func() bool {
		st := s.Stats()
		return st.Watchdog.RestartsByLoop["vrrp"] == 1 && hasAddr(t, ha, vip4.Addr()) && sockStats().RepeatsSent >= 10
	})
	if st := s.Stats().Watchdog; st.StallsByLoop["vrrp"] != 1 {
		t.Errorf("watchdog: %+v", st)
	}
	// The stuck call returns: the cut-off router wakes and stops,
	// sending nothing (its Conn is closed).
	close(p.release)
	released = true
	before := sockStats().RepeatsSent
	time.Sleep(time.Second)
	if n := sockStats().RepeatsSent - before; n < 5 {
		t.Errorf("the new router's socket sent %d repeats in a second after the old router woke", n)
	}
	if !hasAddr(t, ha, vip4.Addr()) {
		t.Error("the VIP is gone")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, h := range got {
		if h.prio != 150 {
			t.Errorf("advert %d at %v: priority %d", i, h.at.Format("15:04:05.000"), h.prio)
		}
	}
	// The last second: an advert every 100 ms.
	var last []time.Duration
	for i := 1; i < len(got); i++ {
		if time.Since(got[i].at) < time.Second {
			last = append(last, got[i].at.Sub(got[i-1].at))
		}
	}
	if len(last) < 8 {
		t.Errorf("%d adverts heard in the last second, want about 10", len(last))
	}
	for _, d := range last {
		if d < 50*time.Millisecond || d > 200*time.Millisecond {
			t.Errorf("adverts %v apart in the last second: %v", d, last)
			break
		}
	}
}
