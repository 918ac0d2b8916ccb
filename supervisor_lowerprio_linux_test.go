//go:build linux

package vigil_test

import (
	"context"
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
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorNotifyMasterRxLowerPri: a master that receives a lower
// priority advert runs notify_master_rx_lower_pri with its own arguments
// and writes keepalived's FIFO line, once per advert.
func TestSupervisorNotifyMasterRxLowerPri(t *testing.T) {
	dir, script, out := scriptDir(t, "")
	fifo := filepath.Join(dir, "fifo")
	in := supInst("VI_1", 51, 200, vipX)
	in.VRRP.Interval = 100 * time.Millisecond
	in.Notify.MasterRxLowerPri = &notify.Script{Args: []string{script, "lower", "x y"}}
	cfg := vigil.Config{Global: vigil.Global{VRRPNotifyFIFO: &notify.FIFOConfig{Path: fifo}}, Instances: []vigil.Instance{in}}
	p := newMemPlatform(t, vrrptest.NewHub(1), 1)
	s, err := vigil.New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sub := s.Subscribe(64)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for e := range sub.C() {
		if e.Kind == vigil.EventInstance && e.To == vrrp.Master {
			break
		}
	}
	src := netip.MustParseAddr("192.0.2.9")
	adv := vrrp.Advertisement{Version: vrrp.V3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{vipX.Addr()}}
	for range 2 {
		b, err := adv.AppendMarshal(nil, src, vrrp.GroupV4)
		if err != nil {
			t.Fatal(err)
		}
		p.Conn("VI_1").Inject(b, vrrp.PacketInfo{Src: src, Dst: vrrp.GroupV4, TTL: 255, Time: time.Now()})
	}
	var calls []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if calls, _ = os.ReadFile(out); strings.Count(string(calls), "\n") >= 2 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := string(calls), "lower x y\nlower x y\n"; got != want {
		t.Errorf("script calls %q, want %q", got, want)
	}
	var lower []string
	for _, l := range fifoLines(r) {
		if strings.Contains(l, "LOWER") {
			lower = append(lower, l)
		}
	}
	if want := []string{`INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200`, `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200`}; !slices.Equal(lower, want) {
		t.Errorf("fifo lines %q, want %q", lower, want)
	}
}
