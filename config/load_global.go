package config

import (
	"net/netip"
)

// extState is what the keywords of load_global.go, load_routes.go and
// load_instance.go remember across blocks.
type extState struct {
	strict bool // vrrp_strict
	// group4, group6: vrrp_mcast_group4 / vrrp_mcast_group6.
	group4, group6 netip.Addr
	adv            advertSet // vrrp_down_timer_adverts, ... (load_advert.go)
	syncd          *syncdDef // lvs_sync_daemon (load_syncd.go)

	vmacPrefix *Statement // vmac_prefix (load_vmac.go)
}

// Reasons shared by several keywords.
const (
	whyNoSNMP    = "not supported: no SNMP (use the Go API, metrics or vigild's state dump)"
	whyNoDBus    = "not supported: no D-Bus (use the Go API or vigild's state dump)"
	whyOneProc   = "not supported: vigil is one process"
	whyNoSMTP    = "not supported: no SMTP alerts (use notify scripts or the FIFO)"
	whyNoBFD     = "not supported: no BFD"
	whySched     = "not supported: vigil does not change its scheduling or CPU affinity (use the service manager: CPUSchedulingPolicy=, Nice=, CPUAffinity=)"
	whyNoSwap    = "not supported: vigil does not lock its memory (mlockall); MemorySwapMax=0 in the service's unit keeps its heap out of swap, though its binary's pages can still be reclaimed under memory pressure (LimitMEMLOCK= only raises the limit)"
	whyRcvBuf    = "not supported: vigil sizes its sockets' buffers itself"
	whyFirewall  = "not supported: vigil enforces no_accept with nftables only (see nftables)"
	whyNoExtraIf = "not supported: vigil announces on the instance's interface only"
)

// globalIgnored are the global_defs keywords vigil does not map, and
// why.
var globalIgnored = map[string]string{
	"process_names":                       whyOneProc,
	"process_name":                        whyOneProc,
	"vrrp_process_name":                   whyOneProc,
	"checker_process_name":                whyOneProc,
	"lvs_process_name":                    whyOneProc,
	"bfd_process_name":                    whyOneProc,
	"notification_email":                  whyNoSMTP,
	"notification_email_from":             whyNoSMTP,
	"smtp_server":                         whyNoSMTP,
	"smtp_helo_name":                      whyNoSMTP,
	"smtp_connect_timeout":                whyNoSMTP,
	"smtp_alert":                          whyNoSMTP,
	"smtp_alert_vrrp":                     whyNoSMTP,
	"smtp_alert_checker":                  whyNoSMTP,
	"no_email_faults":                     whyNoSMTP,
	"no_checker_emails":                   whyNoSMTP,
	"max_auto_priority":                   whySched,
	"min_auto_priority_delay":             whySched,
	"vrrp_priority":                       whySched,
	"checker_priority":                    whySched,
	"bfd_priority":                        whySched,
	"vrrp_no_swap":                        whyNoSwap,
	"checker_no_swap":                     whyNoSwap,
	"bfd_no_swap":                         whyNoSwap,
	"vrrp_rt_priority":                    whySched,
	"checker_rt_priority":                 whySched,
	"bfd_rt_priority":                     whySched,
	"vrrp_cpu_affinity":                   whySched,
	"checker_cpu_affinity":                whySched,
	"bfd_cpu_affinity":                    whySched,
	"vrrp_rlimit_rttime":                  whySched,
	"checker_rlimit_rttime":               whySched,
	"bfd_rlimit_rttime":                   whySched,
	"vrrp_rlimit_rtime":                   whySched,
	"checker_rlimit_rtime":                whySched,
	"bfd_rlimit_rtime":                    whySched,
	"disable_local_igmp":                  "not supported: set net.ipv4.igmp_link_local_mcast_reports=0 yourself",
	"vrrp_garp_extra_if":                  whyNoExtraIf,
	"vrrp_vmac_garp_intvl":                whyNoExtraIf,
	"vrrp_owner_ignore_adverts":           "not supported: an address owner handles adverts as any master",
	"vrrp_iptables":                       whyFirewall,
	"vrrp_ipsets":                         whyFirewall,
	"nftables_ifindex":                    "not supported: link-local VIPs are matched by interface name, which follows an interface deleted and created again",
	"nftables_ipvs":                       "not supported: virtual server groups are one IPVS service per entry",
	"nftables_ipvs_priority":              "not supported: virtual server groups are one IPVS service per entry",
	"nftables_ipvs_start_fwmark":          "not supported: virtual server groups are one IPVS service per entry",
	"log_unknown_vrids":                   "not supported: adverts for other VRIDs are counted in the router's stats, not logged",
	"vmac_addr_prefix":                    "not supported: no per-VIP VMACs (use_vmac_addr)",
	"vrrp_rx_bufs_policy":                 whyRcvBuf,
	"vrrp_rx_bufs_multiplier":             whyRcvBuf,
	"vrrp_netlink_cmd_rcv_bufs":           whyRcvBuf,
	"vrrp_netlink_cmd_rcv_bufs_force":     whyRcvBuf,
	"vrrp_netlink_monitor_rcv_bufs":       whyRcvBuf,
	"vrrp_netlink_monitor_rcv_bufs_force": whyRcvBuf,
	"lvs_netlink_cmd_rcv_bufs":            whyRcvBuf,
	"lvs_netlink_cmd_rcv_bufs_force":      whyRcvBuf,
	"lvs_netlink_monitor_rcv_bufs":        whyRcvBuf,
	"lvs_netlink_monitor_rcv_bufs_force":  whyRcvBuf,
	"process_monitor_rcv_bufs":            whyRcvBuf,
	"process_monitor_rcv_bufs_force":      whyRcvBuf,
	"snmp_socket":                         whyNoSNMP,
	"enable_snmp_vrrp":                    whyNoSNMP,
	"enable_snmp_keepalived":              whyNoSNMP,
	"enable_snmp_checker":                 whyNoSNMP,
	"enable_snmp_rfc":                     whyNoSNMP,
	"enable_snmp_rfcv2":                   whyNoSNMP,
	"enable_snmp_rfcv3":                   whyNoSNMP,
	"enable_traps":                        whyNoSNMP,
	"snmp_vs_stats_update_interval":       whyNoSNMP,
	"snmp_rs_stats_update_interval":       whyNoSNMP,
	"enable_dbus":                         whyNoDBus,
	"dbus_service_name":                   whyNoDBus,
	"dbus_no_interface_name":              whyNoDBus,
	"umask":                               "not supported: vigild keeps the umask it is started with (systemd UMask=)",
	"reload_time_file":                    "not supported: send SIGHUP at the time you want (a systemd timer)",
	"reload_repeat":                       "not supported: send SIGHUP at the time you want (a systemd timer)",
	"reload_file":                         "not supported: vigild writes no reload marker file",
	"config_save_dir":                     "not supported: vigild does not save configurations",
	"tmp_config_directory":                whyOneProc + " (no configuration copy for child processes)",
	"data_use_instance":                   "not supported: vigild names its dump files itself",
	"state_dump_file":                     "not supported: vigild names its dump files itself",
	"stats_dump_file":                     "not supported: vigild names its dump files itself",
	"json_dump_file":                      "not supported: vigild names its dump files itself",
	"iproute_usr_dir":                     "not supported: route tables, realms and protocols are given as numbers (or main, local, default)",
	"iproute_etc_dir":                     "not supported: route tables, realms and protocols are given as numbers (or main, local, default)",
}

// globalExtra adds to hs the global_defs keywords of this file: those
// vigil maps with keepalived's meaning and those it maps with a
// different behaviour (a warning each).
func (l *loader) globalExtra(hs map[string]handler) {
	hs["vrrp_mcast_group4"] = l.mcastGroup(&l.x.group4, false)
	hs["vrrp_mcast_group6"] = l.mcastGroup(&l.x.group6, true)
	l.advertHandlers(hs, "vrrp_")
	l.advertOptions(hs, "vrrp_", &l.x.adv)
	hs["vrrp_strict"] = func(s *Statement) {
		if v, ok := l.boolArg(s); ok {
			l.x.strict = v
			l.cur.why = whyStrict
		}
	}
	l.lvsAdminGlobals(hs) // load_lvsadmin.go
	hs["lvs_sync_daemon"] = l.lvsSyncDaemon
	hs["vrrp_startup_delay"] = l.startupDelay(false)
	hs["vrrp_delay_after_boot"] = l.startupDelay(true)
	hs["vmac_prefix"] = l.vmacPrefix
	hs["reload_check_config"] = func(s *Statement) {
		if l.args(s, 0, 1) {
			l.cur.why = "vigild always validates a new configuration before it applies it; LOGFILE is not written"
		}
	}
	hs["include_check"] = func(*Statement) {
		l.cur.why = "applied by Read, as the file is read"
	}
	l.daemonGlobals(hs) // load_daemon.go
	l.nftGlobals(hs)    // load_nftables.go
}

// whyStrict is what vrrp_strict and strict_mode do in vigil.
const whyStrict = "instances get no_accept unless priority 255; unicast peers, authentication and preempt_delay are errors; " +
	"VRRPv3 instances need virtual addresses, lower_prio_no_advert is on, higher_prio_send_advert off and down_timer_adverts 3 " +
	"(vigil's adverts already follow the RFC)"

// topExtra adds to top the top-level keywords of this file and removes
// them from ign.
func (l *loader) topExtra(top map[string]handler, ign map[string]string) {
	add := func(kw string, h handler) {
		top[kw] = h
		delete(ign, kw)
	}
	l.daemonTop(add)                                  // load_daemon.go
	add("interface_up_down_delays", l.ifUpDownDelays) // load_ifdelay.go
	add("static_routes", l.staticRoutes)
	add("static_rules", l.staticRules)
	add("bgp", l.bgpBlock) // load_bgp.go: vigil's extension
	for kw, why := range map[string]string{
		"net_namespace_ipvs":    "not supported: IPVS is in vigild's namespace",
		"namespace_with_ipsets": "not supported: for kernels before 3.13",
		"linkbeat_use_polling":  "not supported: vigil follows links through netlink",
		"linkbeat_interfaces":   "not supported: vigil follows links through netlink",
		"track_group":           "not supported: no track groups (static addresses, routes and rules do not fault instances)",
		"bfd_instance":          whyNoBFD,
		"garp_group":            "not supported: one vrrp_garp_interval for every interface",
	} {
		ign[kw] = why
	}
}

// advertHandlers adds to hs the keywords on adverts that global_defs
// (with prefix "vrrp_") and vrrp_instance share.
func (l *loader) advertHandlers(hs map[string]handler, prefix string) {
	hs[prefix+"check_unicast_src"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			l.cur.why = "always on: unicast adverts are accepted from the configured peers only"
		}
	}
	hs[prefix+"skip_check_adv_addr"] = func(s *Statement) {
		if _, ok := l.boolArg(s); ok {
			l.cur.why = "always on: vigil never compares an advert's addresses with its own"
		}
	}
}
