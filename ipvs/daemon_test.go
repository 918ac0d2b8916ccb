package ipvs_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

func TestSyncDaemonValidate(t *testing.T) {
	ok := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth0", SyncID: 7}
	for _, tc := range []struct {
		name string
		d    func(d *ipvs.SyncDaemon)
		want []string // every error, in order
	}{
		{"valid", func(*ipvs.SyncDaemon) {}, nil},
		{"valid backup, every field", func(d *ipvs.SyncDaemon) {
			*d = ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "bond0.100", SyncID: 255, MaxLen: ipvs.MaxSyncMaxLen,
				Port: 9000, TTL: 255, Group: netip.MustParseAddr("ff02::1:2")}
		}, nil},
		{"no state", func(d *ipvs.SyncDaemon) { d.State = 0 }, []string{"ipvs: sync daemon SyncState(0): State: SyncState(0), want master or backup"}},
		{"unknown state", func(d *ipvs.SyncDaemon) { d.State = 3 }, []string{"State: SyncState(3), want master or backup"}},
		{"no interface", func(d *ipvs.SyncDaemon) { d.Interface = "" }, []string{"ipvs: sync daemon master: Interface: empty"}},
		{"interface too long", func(d *ipvs.SyncDaemon) { d.Interface = "abcdefghijklmnop" }, []string{`Interface: "abcdefghijklmnop" is 16 bytes, at most 15`}},
		{"interface with a slash", func(d *ipvs.SyncDaemon) { d.Interface = "a/b" }, []string{`Interface: "a/b" is not an interface name`}},
		{"max length", func(d *ipvs.SyncDaemon) { d.MaxLen = 65508 }, []string{"MaxLen: 65508 out of range 0..65507"}},
		{"unicast group", func(d *ipvs.SyncDaemon) { d.Group = netip.MustParseAddr("192.0.2.1") }, []string{"Group: 192.0.2.1 is not a multicast address"}},
		{"group with zone", func(d *ipvs.SyncDaemon) { d.Group = netip.MustParseAddr("ff02::1%eth0") }, []string{"Group: ff02::1%eth0 has a zone"}},
		{"every problem at once", func(d *ipvs.SyncDaemon) {
			*d = ipvs.SyncDaemon{MaxLen: 65535, Group: netip.MustParseAddr("2001:db8::1")}
		}, []string{"State:", "Interface: empty", "MaxLen:", "Group:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := ok
			tc.d(&d)
			err := d.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ipvs.ErrInvalid) {
				t.Fatalf("Validate: %v, want ErrInvalid", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("Validate: %d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d: %q, want it to contain %q", i, lines[i], w)
				}
			}
			var fe *ipvs.FieldError
			if !errors.As(err, &fe) || !fe.Daemon {
				t.Errorf("not a sync daemon's *FieldError: %#v", err)
			}
		})
	}
}

func TestSyncDaemonString(t *testing.T) {
	d := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth0", SyncID: 1}
	if got, want := d.String(), "master sync daemon (mcast=eth0, syncid=1)"; got != want {
		t.Errorf("String: %q, want %q", got, want)
	}
	d = ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 2}.Normalize()
	d.MaxLen = 1472
	if got, want := d.String(), "backup sync daemon (mcast=eth1, syncid=2, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"; got != want {
		t.Errorf("String: %q, want %q", got, want)
	}
}

// TestTableDaemons: the in-memory table starts, lists and stops sync
// daemons as the kernel does: one per role, the kernel's defaults filled
// in, ErrExists and ErrNotFound, ErrClosed after Close.
func TestTableDaemons(t *testing.T) {
	ctx := context.Background()
	tab := ipvstest.New()
	m := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth0", SyncID: 5}
	b := ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 5, MaxLen: 100, Port: 9000, TTL: 3, Group: netip.MustParseAddr("ff12::8")}
	if err := tab.StartDaemon(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := tab.StartDaemon(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := tab.StartDaemon(ctx, m); !errors.Is(err, ipvs.ErrExists) {
		t.Errorf("second master: %v, want ErrExists", err)
	}
	if err := tab.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncBackup}); !errors.Is(err, ipvs.ErrInvalid) {
		t.Errorf("invalid daemon: %v, want ErrInvalid", err)
	}
	got, err := tab.Daemons(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantM := ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth0", SyncID: 5, MaxLen: 1472, Port: 8848, TTL: 1, Group: ipvs.DefaultSyncGroup}
	wantB := b
	wantB.MaxLen = 1024 // a backup's is at least 1024
	if want := []ipvs.SyncDaemon{wantM, wantB}; !slices.Equal(got, want) {
		t.Errorf("Daemons:\n got %v\nwant %v", got, want)
	}
	if err := tab.StopDaemon(ctx, ipvs.SyncMaster); err != nil {
		t.Fatal(err)
	}
	if err := tab.StopDaemon(ctx, ipvs.SyncMaster); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("stop a stopped master: %v, want ErrNotFound", err)
	}
	if got := tab.RunningDaemons(); !slices.Equal(got, []ipvs.SyncDaemon{wantB}) {
		t.Errorf("after the master's stop: %v", got)
	}
	if c := tab.Counts(); c[ipvs.OpStartDaemon] != 2 || c[ipvs.OpStopDaemon] != 1 || c[ipvs.OpListDaemons] != 1 || tab.Writes() != 0 {
		t.Errorf("counts %v, writes %d", c, tab.Writes())
	}
	tab.FailOnce(ipvs.OpStopDaemon, ipvs.ServiceKey{}, ipvs.DestinationKey{}, errors.New("boom"))
	if err := tab.StopDaemon(ctx, ipvs.SyncBackup); err == nil || err.Error() != "boom" {
		t.Errorf("fault: %v", err)
	}
	tab.Close()
	if err := tab.StopDaemon(ctx, ipvs.SyncBackup); !errors.Is(err, ipvs.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if _, err := tab.Daemons(ctx); !errors.Is(err, ipvs.ErrClosed) {
		t.Errorf("Daemons after Close: %v, want ErrClosed", err)
	}
}
