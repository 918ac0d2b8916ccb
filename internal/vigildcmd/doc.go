// Package vigildcmd is vigild, keepalived's drop-in daemon: cmd/vigild
// calls Main. It reads a keepalived.conf with package config, runs it on
// a vigil.Supervisor, and takes keepalived's command line, signals, pid
// files and exit statuses.
//
// Where vigild differs from keepalived, and why:
//
//   - One process by default, never forking: -n is accepted and changes
//     nothing; -l, -S, -G and -B are accepted too (-R too, which
//     matters only to the process model below). It logs with
//     log/slog to stderr (the journal under systemd), keepalived's
//     wording in the message ("(VI_1) Entering MASTER STATE", "Removing
//     service [192.0.2.1]:tcp:80 from VS [192.0.2.100]:tcp:80",
//     "Reloading", "Stopping"), one line a transition: the routers' own
//     "vrrp: transition" line is at debug level
//     (vrrp.Config.TransitionLogLevel). -D twice logs at debug level.
//   - --process-model=keepalived runs keepalived's process model instead
//     (split.go): a parent starts this program again as a VRRP child
//     (--child=vrrp, as -P) and a checker child (--child=checker, as -C),
//     each beating over a socketpair on fd 3 while its Supervisor is
//     Healthy, and guards them with package watchdog: a child that exits or
//     misses --child-deadline is killed (SIGKILL) and respawned, at once the
//     first time within a minute, then after 1s, 2s and 4s; the fifth
//     failure within a minute exits 1 (with -R the first); a child's
//     permanent status (1, 2, 6) ends the parent with it. A VRRP child
//     killed while master is respawned resuming those instances
//     (vigil.Supervisor.ResumeMasters): its VIPs are never removed. The
//     parent relays the VIPs the VRRP child holds as master (from its
//     heartbeats) to the checker child, for ha_suspend
//     (vigil.Supervisor.SetHeldVIPs). It forwards SIGHUP and SIGUSR1 to both
//     children, SIGUSR2 and the JSON signal to the VRRP child, stops both on
//     SIGTERM, alone talks to systemd (READY=1 once both are ready;
//     WATCHDOG=1 only while both beat), writes -p (each child its own -r or
//     -c), and answers the control socket and --metrics-address from its
//     children's (each listens on the control socket's path + ".vrrp" or
//     ".checker"). A child stops when its parent dies (PR_SET_PDEATHSIG
//     SIGTERM, and its end of the socketpair closing). --all starts both
//     children even when the file has nothing for one; without it a side
//     with nothing to run is not started, as keepalived's. Log lines carry
//     process=parent, vrrp or checker.
//   - Pid files: -p, and -r and -c for the VRRP and checker sides, all hold
//     vigild's pid (scripts and units that signal either reach the one
//     process); -r is written unless -C, -c unless -P. With
//     --process-model=keepalived each holds its own process's pid, as
//     keepalived's. A pid file naming a live vigild or keepalived (or locked
//     by one) refuses the start with exit 1 (keepalived exits 0); a dead or
//     reused pid (keepalived#1527) is overwritten.
//   - -P drops the virtual servers, -C the instances, sync groups,
//     trackers and static addresses: the other side is not run.
//   - Start: a missing file exits 6, a fatal problem 2; errors keepalived
//     runs with are logged and vigild runs. Reload (SIGHUP, vigild
//     reload) applies a file only without errors, as keepalived's
//     reload_check_config: otherwise every error is logged with its
//     position and the running configuration stays.
//   - --namespace NAME (-s) runs the VRRP instances, VIPs and IPVS in
//     /run/netns/NAME through the platform; checks connect from the
//     namespace vigild started in (start it with `ip netns exec NAME` to
//     check from inside).
//   - SIGUSR1 writes keepalived.data (for people; not keepalived's exact
//     text) and vigild.json (vigil.State), SIGUSR2 keepalived.stats in
//     keepalived's layout; keepalived's JSON signal (SIGRTMIN+2) writes
//     keepalived.json in keepalived's format (json_version 1 or 2, the
//     keys and types of keepalived 2.2.7's, the password as "********")
//     and vigild.json. keepalived.json's fields vigil has no counterpart
//     for hold keepalived's zero value: skip_check_adv_addr, strict_mode,
//     vmac_ifname, master_priority, smtp_alert, invalid_type_rcvd,
//     invalid_authtype, authtype_mismatch; master_adver_int is the
//     configured advert interval, wantstate the state, and track_script
//     lists the vrrp_script trackers only. They go to $TMPDIR or /tmp; a
//     failed write is logged.
//   - No dump or answer of vigild holds a secret (redact.go): -d's dump,
//     keepalived.data, keepalived.json, vigild dump and the control
//     socket's answers show a VRRP auth_pass and a bgp neighbor's
//     password, where they show them, as "********", and never the SSL
//     block's password; vigild.json, status and /state hold no
//     configuration. keepalived 2.2.x and 2.3.x print auth_pass in -d's
//     dump, keepalived.data and keepalived.json, and the SSL block's
//     password in -d's dump and keepalived_check.data (and log it when
//     the SSL context cannot be set up); keepalived 2.4.0 masks auth_pass
//     as "********", not the SSL password.
//   - -t does not run the scripts' permission checks (the Supervisor does
//     at start and reload, and logs them).
//   - Options vigild cannot honour (-X, -V, -g, -u, SNMP, core dumps,
//     genhash, ...) are refused, "not supported by vigild: ..." and exit
//     1, as keepalived treats a bad option.
//
// vigild's own: --metrics-address serves /metrics (package metrics, the
// BGP speaker's vigil_bgp_* series, Go and process collectors) and /state
// (State as JSON, the speaker's state under "bgp"); --control-socket
// (default /run/vigild/control.sock, mode 0600 in a 0700 directory,
// clients checked to be root or vigild's user by SO_PEERCRED) answers one
// JSON Request per connection with a Response: vigild status [--json],
// vigild reload and vigild dump use it.
//
// Also vigild's own, the bgp block (bgp.go): a configuration with one
// (vigil.Config.BGP) runs a bgp.Speaker over the Supervisor (Env.Speaker
// builds it), in the VRRP child with --process-model=keepalived, where a
// vip gated on a virtual server is a fatal configuration error. SIGTERM
// and SIGINT drain it (Speaker.Drain) before the Supervisor is cancelled.
// A second SIGTERM or SIGINT during the drain (an operator who wants the
// stop now) cuts it: the drain's context is cancelled, the speaker
// withdraws the routes at once, vigild logs "BGP drain cut short by a
// second signal", and the stop goes on as usual (masters hand over with
// priority 0); with --process-model=keepalived the parent passes that
// second signal on to the VRRP child. Other signals are ignored during
// the drain. A reload that changes the block restarts the speaker; a
// speaker that cannot start stops vigild. Built with -tags nobgp
// (bgp_nospeaker.go) vigild links no GoBGP and refuses a bgp block.
//
// Once a start, a reload or a burst of transitions has settled (10 s
// after the last), vigild gives the heap it left idle back to the OS
// (internal/memtrim; Env.Trim).
package vigildcmd
