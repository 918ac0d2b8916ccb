package vigil

import "time"

// Daemon is what a configuration file says of the process that runs the
// Supervisor: keepalived's top-level net_namespace, instance and
// use_pid_dir, and global_defs json_version. The Supervisor ignores it; vigild applies it. A reload
// cannot change NetNamespace or Instance (vigild refuses such a reload,
// as keepalived does).
type Daemon struct {
	// NetNamespace is the network namespace (/run/netns/NAME) the
	// daemon runs in when its command line names none (net_namespace);
	// empty means the daemon's own.
	NetNamespace string
	// Instance names this daemon among several on one host (instance):
	// its pid files are keepalived_NAME.pid, vrrp_NAME.pid and
	// checkers_NAME.pid in /run/keepalived. Empty means none.
	Instance string
	// UsePidDir puts the pid files in /run/keepalived (use_pid_dir);
	// a namespace or an Instance does so too. By default they are in
	// /run.
	UsePidDir bool
	// JSONVersion is the format of keepalived.json, written on the JSON
	// signal (json_version): 1, a list of the instances, or 2, an object
	// with them under "vrrp". 0 means 1.
	JSONVersion int
	// ChildWaitTime is how long vigild's parent (--process-model=
	// keepalived) waits for a child to stop after SIGTERM before it kills
	// it (child_wait_time). 0 means 70 s: a stopping Supervisor gives
	// queued notify scripts up to a minute (keepalived's default is 5 s).
	ChildWaitTime time.Duration
}
