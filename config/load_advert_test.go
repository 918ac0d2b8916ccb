package config

import (
	"testing"

	"github.com/vigil-ha/vigil/vrrp"
)

func TestLoadAdvertOptions(t *testing.T) {
	for _, tc := range []struct {
		name, global, body string
		want               vrrp.AdvertOptions
		errs               []wantErr
	}{
		{"none", "", "", vrrp.AdvertOptions{}, nil},
		{"instance", "", " down_timer_adverts 5\n lower_prio_no_advert\n higher_prio_send_advert true\n",
			vrrp.AdvertOptions{DownTimerAdverts: 5, LowerPrioNoAdvert: true, HigherPrioSendAdvert: true}, nil},
		{"global", " vrrp_down_timer_adverts 2\n vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert", "",
			vrrp.AdvertOptions{DownTimerAdverts: 2, LowerPrioNoAdvert: true, HigherPrioSendAdvert: true}, nil},
		{"instance beats global", " vrrp_down_timer_adverts 2\n vrrp_lower_prio_no_advert", " down_timer_adverts 4\n lower_prio_no_advert off\n",
			vrrp.AdvertOptions{DownTimerAdverts: 4}, nil},
		{"down_timer_adverts 0", "", " down_timer_adverts 0\n", vrrp.AdvertOptions{}, []wantErr{{"invalid number", 7, 21}}},
		{"down_timer_adverts 101", "", " down_timer_adverts 101\n", vrrp.AdvertOptions{}, []wantErr{{"invalid number", 7, 21}}},
		{"lower_prio_no_advert bad", "", " lower_prio_no_advert maybe\n", vrrp.AdvertOptions{}, []wantErr{{"is not true/on/yes", 7, 23}}},
		{"strict defaults", " vrrp_strict\n vrrp_higher_prio_send_advert", "",
			vrrp.AdvertOptions{LowerPrioNoAdvert: true}, nil},
		{"strict refuses", " vrrp_strict", " down_timer_adverts 5\n lower_prio_no_advert false\n higher_prio_send_advert\n",
			vrrp.AdvertOptions{LowerPrioNoAdvert: true}, []wantErr{
				{"down_timer_adverts is incompatible with strict mode", 7, 2},
				{"strict mode requires lower_prio_no_advert", 8, 2},
				{"strict mode requires higher_prio_send_advert to be off", 9, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, instText(tc.global, tc.body))
			if len(cfg.Instances) != 1 {
				t.Fatalf("%d instances: %v", len(cfg.Instances), errs)
			}
			if got := cfg.Instances[0].VRRP.AdvertOptions; got != tc.want {
				t.Errorf("%+v, want %+v", got, tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}
