package vigildcmd

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// KeepalivedJSONFile is keepalived's JSON dump (vrrp_print_json), written
// on the JSON signal in keepalived's format.
const KeepalivedJSONFile = "keepalived.json"

// writeKeepalivedJSON is the JSON signal's keepalived.json. keepalived
// writes nothing without instances; neither does vigild.
func (d *daemon) writeKeepalivedJSON(st *vigil.State) {
	if len(st.Instances) == 0 {
		return
	}
	cfg := d.shownConfig()
	b, err := keepalivedJSON(&cfg, st, d.sup.Stats())
	if err != nil {
		d.log.Error("Cannot encode the state", "err", err)
		return
	}
	d.writeDump(KeepalivedJSONFile, b)
}

// keepalivedJSON is keepalived.json in keepalived's format
// (keepalived/vrrp/vrrp_json.c, as keepalived 2.2.7 writes it, with
// auth_data "********" as keepalived 2.4.0 and later write it; 2.2.x and
// 2.3.x write the password itself): json_version 1 (and 0) is a
// list of {"data": ..., "stats": ...}, one per instance; 2 is an object
// with that list under "vrrp" (keepalived adds "track_process" there for
// its vrrp_track_process, which vigild does not list). The values come
// from State and Stats, the configured ones from cfg. The keys keepalived
// omits when empty (the scripts, vips, evips, vroutes, vrules,
// track_ifp, track_script, auth_data) are omitted the same way.
//
// keepalived's fields vigil has no counterpart for hold keepalived's
// zero value: skip_check_adv_addr and strict_mode (0: vigil's config
// applies them when it loads), vmac_ifname (""), master_priority (0),
// smtp_alert (false), invalid_type_rcvd, invalid_authtype and
// authtype_mismatch (0). master_adver_int is the configured advert
// interval, wantstate the state; track_script lists the trackers'
// programs (a tracker that runs no program by its name), not track_file
// or vrrp_track_process trackers, as keepalived 2.2.7.
func keepalivedJSON(cfg *vigil.Config, st *vigil.State, stats vigil.Stats) ([]byte, error) {
	list := make([]kaInstance, 0, len(st.Instances))
	for i := range st.Instances {
		is := &st.Instances[i]
		var in *vigil.Instance
		if j := slices.IndexFunc(cfg.Instances, func(in vigil.Instance) bool { return in.VRRP.Name == is.Name }); j >= 0 {
			in = &cfg.Instances[j]
		}
		list = append(list, kaInstance{Data: kaData(cfg, in, is), Stats: kaStats(stats.Instances[is.Name])})
	}
	var v any = list
	if cfg.Global.Daemon.JSONVersion == 2 {
		v = struct {
			VRRP []kaInstance `json:"vrrp"`
		}{list}
	}
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

type kaInstance struct {
	Data  kaInstanceData  `json:"data"`
	Stats kaInstanceStats `json:"stats"`
}

// kaInstanceData is vrrp_json_data_dump's object, in its order.
type kaInstanceData struct {
	Iname                string   `json:"iname"`
	DontTrackPrimary     uint     `json:"dont_track_primary"`
	SkipCheckAdvAddr     uint     `json:"skip_check_adv_addr"`
	StrictMode           uint     `json:"strict_mode"`
	VMACIfname           string   `json:"vmac_ifname"`
	IfpIfname            string   `json:"ifp_ifname"`
	MasterPriority       uint     `json:"master_priority"`
	LastTransition       float64  `json:"last_transition"`
	GARPDelay            float64  `json:"garp_delay"`
	GARPRefresh          uint     `json:"garp_refresh"`
	GARPRep              uint     `json:"garp_rep"`
	GARPRefreshRep       uint     `json:"garp_refresh_rep"`
	GARPLowerPrioDelay   uint     `json:"garp_lower_prio_delay"`
	GARPLowerPrioRep     uint     `json:"garp_lower_prio_rep"`
	LowerPrioNoAdvert    uint     `json:"lower_prio_no_advert"`
	HigherPrioSendAdvert uint     `json:"higher_prio_send_advert"`
	VRID                 uint     `json:"vrid"`
	BasePriority         uint     `json:"base_priority"`
	EffectivePriority    uint     `json:"effective_priority"`
	VIPSet               bool     `json:"vipset"`
	PromoteSecondaries   bool     `json:"promote_secondaries"`
	AdverInt             float64  `json:"adver_int"`
	MasterAdverInt       float64  `json:"master_adver_int"`
	Accept               uint     `json:"accept"`
	NoPreempt            bool     `json:"nopreempt"`
	PreemptDelay         uint     `json:"preempt_delay"`
	State                uint     `json:"state"`
	WantState            uint     `json:"wantstate"`
	Version              uint     `json:"version"`
	SMTPAlert            bool     `json:"smtp_alert"`
	NotifyDeleted        bool     `json:"notify_deleted"`
	ScriptBackup         string   `json:"script_backup,omitempty"`
	ScriptMaster         string   `json:"script_master,omitempty"`
	ScriptFault          string   `json:"script_fault,omitempty"`
	ScriptStop           string   `json:"script_stop,omitempty"`
	ScriptDeleted        string   `json:"script_deleted,omitempty"`
	Script               string   `json:"script,omitempty"`
	ScriptMasterRxLower  string   `json:"script_master_rx_lower_pri,omitempty"`
	VIPs                 []string `json:"vips,omitempty"`
	EVIPs                []string `json:"evips,omitempty"`
	VRoutes              []string `json:"vroutes,omitempty"`
	VRules               []string `json:"vrules,omitempty"`
	TrackIfp             []string `json:"track_ifp,omitempty"`
	TrackScript          []string `json:"track_script,omitempty"`
	AuthType             uint     `json:"auth_type"`
	AuthData             string   `json:"auth_data,omitempty"`
}

// kaInstanceStats is vrrp_json_stats_dump's object, in its order.
type kaInstanceStats struct {
	AdvertRcvd        uint64 `json:"advert_rcvd"`
	AdvertSent        uint64 `json:"advert_sent"`
	BecomeMaster      uint64 `json:"become_master"`
	ReleaseMaster     uint64 `json:"release_master"`
	PacketLenErr      uint64 `json:"packet_len_err"`
	AdvertIntervalErr uint64 `json:"advert_interval_err"`
	IPTTLErr          uint64 `json:"ip_ttl_err"`
	InvalidTypeRcvd   uint64 `json:"invalid_type_rcvd"`
	AddrListErr       uint64 `json:"addr_list_err"`
	InvalidAuthtype   uint64 `json:"invalid_authtype"`
	AuthtypeMismatch  uint64 `json:"authtype_mismatch"`
	AuthFailure       uint64 `json:"auth_failure"`
	PriZeroRcvd       uint64 `json:"pri_zero_rcvd"`
	PriZeroSent       uint64 `json:"pri_zero_sent"`
}

// kaState is keepalived's VRRP_STATE_* number for State's name.
func kaState(s string) uint {
	switch s {
	case vrrp.Backup.String():
		return 1
	case vrrp.Master.String():
		return 2
	case vrrp.Fault.String():
		return 3
	case vrrp.Stopped.String():
		return 98 // VRRP_STATE_STOP
	}
	return 0 // VRRP_STATE_INIT
}

func b2u(b bool) uint {
	if b {
		return 1
	}
	return 0
}

func secs(d time.Duration) float64 { return max(d, 0).Seconds() }

func kaData(cfg *vigil.Config, in *vigil.Instance, is *vigil.InstanceState) kaInstanceData {
	state := kaState(is.State)
	d := kaInstanceData{
		Iname:             is.Name,
		IfpIfname:         is.Interface,
		VRID:              uint(is.VRID),
		BasePriority:      uint(is.Priority),
		EffectivePriority: uint(is.Effective),
		VIPSet:            state == 2,
		State:             state,
		WantState:         state,
		Version:           2,
		Accept:            1,
	}
	if !is.Since.IsZero() {
		d.LastTransition = float64(is.Since.UnixMicro()) / 1e6
	}
	if in == nil {
		return d
	}
	vc := &in.VRRP
	if in.Interface != "" {
		d.IfpIfname = in.Interface
	}
	d.DontTrackPrimary = b2u(in.DontTrackPrimary)
	d.LowerPrioNoAdvert = b2u(vc.LowerPrioNoAdvert)
	d.HigherPrioSendAdvert = b2u(vc.HigherPrioSendAdvert)
	d.PromoteSecondaries = in.PromoteSecondaries
	d.AdverInt = secs(vc.Interval)
	d.MasterAdverInt = d.AdverInt
	d.Accept = b2u(!vc.NoAccept)
	d.NoPreempt = vc.NoPreempt
	d.PreemptDelay = uint(secs(vc.PreemptDelay))
	d.Version = uint(versionNumber(vc.Version))
	d.AuthType = uint(vc.AuthType)
	if vc.AuthType != vrrp.AuthNone {
		d.AuthData = secretMask // keepalived 2.4.0 on; 2.2.x and 2.3.x write the password
	}
	garp(&d, in.GARP)

	n := &in.Notify
	d.NotifyDeleted = n.SendDeleted || n.Deleted != nil
	d.ScriptBackup, d.ScriptMaster, d.ScriptFault = cmdStr(n.Backup), cmdStr(n.Master), cmdStr(n.Fault)
	d.ScriptStop, d.ScriptDeleted, d.Script = cmdStr(n.Stop), cmdStr(n.Deleted), cmdStr(n.Any)
	d.ScriptMasterRxLower = cmdStr(n.MasterRxLowerPri)

	set := ""
	if d.VIPSet {
		set = " set"
	}
	addr := func(p netip.Prefix) string {
		return p.String() + " dev " + d.IfpIfname + " scope global" + set
	}
	for _, p := range vc.VIPs {
		d.VIPs = append(d.VIPs, addr(p))
	}
	for _, p := range in.ExcludedVIPs {
		d.EVIPs = append(d.EVIPs, addr(p))
	}
	for _, r := range in.Routes {
		d.VRoutes = append(d.VRoutes, r.String())
	}
	for _, r := range in.Rules {
		d.VRules = append(d.VRules, r.String())
	}
	for _, ti := range in.TrackInterfaces {
		d.TrackIfp = append(d.TrackIfp, ti.Interface)
	}
	for _, t := range in.Track {
		i := slices.IndexFunc(cfg.Trackers, func(tr vigil.Tracker) bool { return tr.Name == t.Tracker })
		if i < 0 || cfg.Trackers[i].Check == nil {
			continue
		}
		name := t.Tracker
		if e, ok := cfg.Trackers[i].Check.Checker.(*check.Exec); ok && e.Path != "" {
			name = quoteArgs(append([]string{e.Path}, e.Args...))
		}
		d.TrackScript = append(d.TrackScript, name)
	}
	return d
}

// garp fills the garp_* fields from the announcement timing, with
// AnnounceTiming's defaults (keepalived's) for its zero fields.
func garp(d *kaInstanceData, g netlink.AnnounceTiming) {
	delay := g.SecondDelay
	if delay == 0 {
		delay = netlink.DefaultSecondDelay
	}
	rep := g.Repeat
	if rep == 0 {
		rep = netlink.DefaultRepeat
	}
	refreshRep := g.RefreshRepeat
	if refreshRep == 0 {
		refreshRep = 1
	}
	lowerDelay := g.LowerPrioDelay
	if lowerDelay == 0 {
		lowerDelay = delay
	}
	lowerRep := g.LowerPrioRepeat
	if lowerRep == 0 {
		lowerRep = rep
	}
	d.GARPDelay = secs(delay)
	d.GARPRefresh = uint(secs(g.RefreshInterval))
	d.GARPRep = uint(max(rep, 0))
	d.GARPRefreshRep = uint(max(refreshRep, 0))
	d.GARPLowerPrioDelay = uint(secs(lowerDelay))
	d.GARPLowerPrioRep = uint(max(lowerRep, 0))
}

// cmdStr is keepalived's cmd_str: each word in single quotes; "" for no
// script.
func cmdStr(s *notify.Script) string {
	if s == nil || len(s.Args) == 0 {
		return ""
	}
	args := slices.Clone(s.Args)
	if s.Path != "" {
		args[0] = s.Path
	}
	return quoteArgs(args)
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if i == 0 && (strings.HasPrefix(a, "<") || strings.HasPrefix(a, ">")) {
			q[i] = a // keepalived's redirection-only special case
			continue
		}
		q[i] = "'" + a + "'"
	}
	return strings.Join(q, " ")
}

// kaStats maps vigil's counters as writeStats does for keepalived.stats.
func kaStats(s vrrp.Stats) kaInstanceStats {
	return kaInstanceStats{
		AdvertRcvd:        s.AdvertsReceived,
		AdvertSent:        s.AdvertsSent,
		BecomeMaster:      s.BecameMaster,
		ReleaseMaster:     releasedMaster(s),
		PacketLenErr:      s.Drop(vrrp.DropMalformed),
		AdvertIntervalErr: s.Drop(vrrp.DropInterval),
		IPTTLErr:          s.Drop(vrrp.DropTTL),
		AddrListErr:       s.AddrMismatch,
		AuthFailure:       s.Drop(vrrp.DropAuth),
		PriZeroRcvd:       s.PriorityZeroRx,
		PriZeroSent:       s.PriorityZeroTx,
	}
}
