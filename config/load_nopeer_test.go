package config

import "testing"

func TestLoadUnicastFaultNoPeer(t *testing.T) {
	cfg, errs := loadString(t, instText("", " unicast_fault_no_peer\n"))
	checkErrs(t, errs, nil)
	if v := cfg.Instances[0].VRRP; !v.UnicastFaultNoPeer || len(v.Peers) != 0 {
		t.Errorf("%+v", v)
	}
	_, errs = loadString(t, instText("", " unicast_fault_no_peer yes\n"))
	checkErrs(t, errs, []wantErr{{"unicast_fault_no_peer", 7, 24}})
}
