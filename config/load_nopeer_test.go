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

func TestLoadTrackSrcIP(t *testing.T) {
	cfg, errs := loadString(t, instText("", " track_src_ip\n"))
	checkErrs(t, errs, nil)
	if !cfg.Instances[0].TrackSrcIP {
		t.Error("TrackSrcIP not set")
	}
	_, errs = loadString(t, instText("", " track_src_ip on\n"))
	checkErrs(t, errs, []wantErr{{"track_src_ip", 7, 15}})
}
