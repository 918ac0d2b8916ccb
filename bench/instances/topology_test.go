//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

func TestLayout(t *testing.T) {
	for n, want := range map[int]layout{200: {200, 1, 200}, 255: {255, 1, 255}, 1000: {1000, 4, 250}, 300: {300, 2, 150}} {
		if l, err := layoutFor(n); err != nil || l != want {
			t.Errorf("layoutFor(%d) = %+v, %v; want %+v", n, l, err, want)
		}
	}
	for _, n := range []int{0, 301, 255*16 + 1} {
		if l, err := layoutFor(n); err == nil {
			t.Errorf("layoutFor(%d) = %+v, want an error", n, l)
		}
	}
}

// keepalived's and vrrpd's instances are the same: instance g (from 0)
// is VI_g+1 on eth(g/per) with VRID g%per+1 and VIP 198.18.0.1+g.
func TestSameInstances(t *testing.T) {
	l, _ := layoutFor(1000)
	conf := keepalivedConf(&nstest.Host{Name: "h1"}, l, 100*time.Millisecond, "MASTER", masterPriority)
	if n := strings.Count(conf, "vrrp_instance "); n != 1000 {
		t.Errorf("%d vrrp_instances, want 1000", n)
	}
	last := conf[strings.LastIndex(conf, "vrrp_instance "):]
	for _, want := range []string{"VI_1000 {", "interface eth3", "virtual_router_id 250", "198.18.3.232/15", "advert_int 0.1", "priority 150"} {
		if !strings.Contains(last, want) {
			t.Errorf("the last instance lacks %q:\n%s", want, last)
		}
	}
	args := strings.Join(vrrpdArgs(l, 100*time.Millisecond, "BACKUP", backupPriority), " ")
	if want := "-interface eth0,eth1,eth2,eth3 -vrid 1 -count 250 -priority 100 -version 3 -advert 100ms -vip 198.18.0.1/15 -state BACKUP"; args != want {
		t.Errorf("vrrpd %s\nwant  %s", args, want)
	}
}
