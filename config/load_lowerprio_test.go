package config

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/netlink"
)

func TestLoadGARPLowerPrio(t *testing.T) {
	for _, tc := range []struct {
		name, global, body string
		want               netlink.AnnounceTiming // the instance's GARP
		errs               []wantErr
	}{
		{"none", "", "", netlink.AnnounceTiming{}, nil},
		{"instance", "", " garp_lower_prio_delay 2\n garp_lower_prio_repeat 3\n",
			netlink.AnnounceTiming{LowerPrioDelay: 2 * time.Second, LowerPrioRepeat: 3}, nil},
		{"instance 0 is off", "", " garp_lower_prio_delay 0\n garp_lower_prio_repeat 0\n",
			netlink.AnnounceTiming{LowerPrioDelay: -1, LowerPrioRepeat: -1}, nil},
		{"global", " vrrp_garp_lower_prio_delay 4\n vrrp_garp_lower_prio_repeat 1", "",
			netlink.AnnounceTiming{}, nil}, // the zero value takes the global one
		{"instance garp_master takes the global lower_prio", " vrrp_garp_lower_prio_repeat 1", " garp_master_repeat 2\n garp_master_delay 3\n",
			netlink.AnnounceTiming{Repeat: 2, SecondDelay: 3 * time.Second, LowerPrioRepeat: 1, LowerPrioDelay: netlink.DefaultSecondDelay}, nil},
		{"instance garp_master takes the global garp_master", " vrrp_garp_master_repeat 4", " garp_master_repeat 2\n",
			netlink.AnnounceTiming{Repeat: 2, LowerPrioRepeat: 4}, nil},
		{"strict", " vrrp_strict", "",
			netlink.AnnounceTiming{LowerPrioRepeat: -1}, nil},
		{"strict refuses", " vrrp_strict", " garp_lower_prio_repeat 2\n",
			netlink.AnnounceTiming{LowerPrioRepeat: -1}, []wantErr{{"strict mode: garp_lower_prio_repeat must be 0", 4, 1}}},
		{"bad delay", "", " garp_lower_prio_delay x\n", netlink.AnnounceTiming{}, []wantErr{{"garp_lower_prio_delay", 7, 24}}},
		{"bad repeat", "", " garp_lower_prio_repeat -1\n", netlink.AnnounceTiming{}, []wantErr{{"garp_lower_prio_repeat", 7, 25}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, instText(tc.global, tc.body))
			if len(cfg.Instances) != 1 {
				t.Fatalf("%d instances: %v", len(cfg.Instances), errs)
			}
			if got := cfg.Instances[0].GARP; got != tc.want {
				t.Errorf("%+v, want %+v", got, tc.want)
			}
			if tc.name == "global" {
				if g := cfg.Global.GARP; g.LowerPrioDelay != 4*time.Second || g.LowerPrioRepeat != 1 {
					t.Errorf("global %+v", g)
				}
			}
			if tc.name != "strict" {
				checkErrs(t, errs, tc.errs)
			}
		})
	}
}

func TestLoadNotifyMasterRxLowerPri(t *testing.T) {
	cfg, errs := loadString(t, instText("", " notify_master_rx_lower_pri \"/bin/lower x\"\n"))
	checkErrs(t, errs, nil)
	if sc := cfg.Instances[0].Notify.MasterRxLowerPri; sc == nil || len(sc.Args) != 2 || sc.Args[0] != "/bin/lower" || sc.Args[1] != "x" {
		t.Errorf("script %+v", sc)
	}
	_, errs = loadString(t, instText("", " notify_master_rx_lower_pri\n"))
	checkErrs(t, errs, []wantErr{{"notify_master_rx_lower_pri", 7, 2}})
}
