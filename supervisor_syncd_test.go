package vigil_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// daemons formats the sync daemons running in m's IPVS table.
func (m *memSup) daemons() string {
	var out []string
	for _, d := range m.p.Table().RunningDaemons() {
		out = append(out, fmt.Sprintf("%v:%s:%d:%d", d.State, d.Interface, d.SyncID, d.Port))
	}
	return strings.Join(out, " ")
}

// daemonOps counts m's table's sync daemon starts and stops.
func (m *memSup) daemonOps() string {
	c := m.p.Table().Counts()
	return fmt.Sprintf("%d starts, %d stops", c[ipvs.OpStartDaemon], c[ipvs.OpStopDaemon])
}

// TestSupervisorSyncDaemon: keepalived's lvs_sync_daemon on two
// directors. Each runs the backup daemon from the start (sync id: the
// instance's VRID); A becomes master at 3.5703125 s and switches to the
// master daemon at that instant; its tracker fails and B takes over at
// 14.1796875 s: A back to backup, B to master, at that instant, B's
// replacing a master daemon a crashed run left with other settings. A
// reload of B with other settings restarts its daemon with them, one
// without SyncDaemon stops it; Run's end stops A's. Each switch is one
// stop and one start.
func TestSupervisorSyncDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		var chk flag
		sd := &vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1"}
		ca := vigil.Config{Trackers: []vigil.Tracker{checkTracker("chk", &chk, -20)},
			Instances: []vigil.Instance{supInst("VI_1", 51, 110, vipX)}}
		ca.Instances[0].Track = []vigil.Track{{Tracker: "chk"}}
		ca.Global.SyncDaemon = sd
		cb := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}}
		cb.Global.SyncDaemon = sd
		a := startSup(t, hub, 1, ca)
		b := startSup(t, hub, 2, cb)
		stale := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 99}
		if err := b.p.Table().StartDaemon(t.Context(), stale); err != nil {
			t.Fatal(err)
		}
		b.p.Table().ResetCounts()
		if got := a.daemons(); got != "" {
			t.Fatalf("A before Run: %q", got)
		}
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		check := func(at string, wantA, wantB string) {
			t.Helper()
			synctest.Wait()
			if got := a.daemons(); got != wantA {
				t.Errorf("%s: A's daemons %q, want %q", at, got, wantA)
			}
			if got := b.daemons(); got != wantB {
				t.Errorf("%s: B's daemons %q, want %q", at, got, wantB)
			}
		}
		check("0s", "backup:eth1:51:8848", "master:eth1:99:8848 backup:eth1:51:8848")
		time.Sleep(3570312500*time.Nanosecond - time.Nanosecond)
		check("3.5703125s - 1ns", "backup:eth1:51:8848", "master:eth1:99:8848 backup:eth1:51:8848")
		time.Sleep(time.Nanosecond)
		check("3.5703125s", "master:eth1:51:8848", "master:eth1:99:8848 backup:eth1:51:8848")

		time.Sleep(10500*time.Millisecond - 3570312500*time.Nanosecond)
		chk.down.Store(true) // A's priority drops to 90 at 11 s; B takes over at 14.1796875 s
		time.Sleep(14179687500*time.Nanosecond - 10500*time.Millisecond - time.Nanosecond)
		check("14.1796875s - 1ns", "master:eth1:51:8848", "master:eth1:99:8848 backup:eth1:51:8848")
		time.Sleep(time.Nanosecond)
		check("14.1796875s", "backup:eth1:51:8848", "master:eth1:51:8848")
		if got, want := a.daemonOps(), "3 starts, 2 stops"; got != want {
			t.Errorf("A: %s, want %s", got, want)
		}
		// B: start backup; at the takeover stop backup, start master
		// (ErrExists: a failed call, not counted), stop it, start again.
		if got, want := b.daemonOps(), "2 starts, 2 stops"; got != want {
			t.Errorf("B: %s, want %s", got, want)
		}
		wantEv := []string{"0s VI_1 INIT->BACKUP 100", "14.1796875s VI_1 BACKUP->MASTER 100"}
		if got := b.events(vigil.EventInstance); !equalLists(got, wantEv) {
			t.Errorf("B's transitions %q, want %q", got, wantEv)
		}

		// Reloads: new settings restart B's master daemon with them;
		// the same settings leave it alone; no SyncDaemon stops it.
		b.p.Table().ResetCounts()
		cb2 := cb
		cb2.Global.SyncDaemon = &vigil.SyncDaemon{Instance: "VI_1", Interface: "eth2", SyncID: 7, Port: 9000}
		if _, err := b.s.Reload(ctx, cb2); err != nil {
			t.Fatal(err)
		}
		check("reload", "backup:eth1:51:8848", "master:eth2:7:9000")
		if _, err := b.s.Reload(ctx, cb2); err != nil {
			t.Fatal(err)
		}
		check("same reload", "backup:eth1:51:8848", "master:eth2:7:9000")
		if got, want := b.daemonOps(), "1 starts, 1 stops"; got != want {
			t.Errorf("B's reloads: %s, want %s", got, want)
		}
		if _, err := b.s.Reload(ctx, vigil.Config{Instances: cb.Instances}); err != nil {
			t.Fatal(err)
		}
		check("reload without", "backup:eth1:51:8848", "")
		if _, err := b.s.Reload(ctx, cb); err != nil {
			t.Fatal(err)
		}
		check("reload with again", "backup:eth1:51:8848", "master:eth1:51:8848")

		stopAll(t, cancel, a, b)
		if got := a.daemons() + b.daemons(); got != "" {
			t.Errorf("after Run: %q", got)
		}
		if got, want := a.daemonOps(), "3 starts, 3 stops"; got != want {
			t.Errorf("A at the end: %s, want %s", got, want)
		}
	})
}

func TestSupervisorSyncDaemonInvalid(t *testing.T) {
	cfg := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}}
	cfg.Global.SyncDaemon = &vigil.SyncDaemon{Instance: "VI_2", SyncID: 256, Group: netip.MustParseAddr("192.0.2.1")}
	err := cfg.Validate()
	if !errors.Is(err, vigil.ErrInvalid) {
		t.Fatalf("Validate: %v", err)
	}
	for _, w := range []string{
		`vigil: sync daemon: Instance: no instance named "VI_2"`,
		"vigil: sync daemon: SyncID: 256, want 1..255",
		"vigil: sync daemon: Interface: empty",
		"vigil: sync daemon: Group: 192.0.2.1 is not a multicast address",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate: %v\nwant %q", err, w)
		}
	}
}
