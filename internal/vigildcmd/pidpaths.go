package vigildcmd

import (
	"path/filepath"
	"strings"

	"github.com/vigil-ha/vigil"
)

// pidPaths are the pid files of vigild: its own (keepalived's parent),
// the VRRP side's and the checkers' (all vigild's pid).
type pidPaths struct{ main, vrrp, checkers string }

// namespace is the network namespace vigild runs in: --namespace, else
// the configuration's net_namespace (keepalived's override_namespace).
func namespace(o *Options, d *vigil.Daemon) string {
	if o.Namespace != "" {
		return o.Namespace
	}
	return d.NetNamespace
}

// pidFiles names the pid files as keepalived's main.c does, seen from
// the host, under runDir (/run): -p, -r and -c as given; otherwise
// keepalived.pid, vrrp.pid and checkers.pid in runDir, or in
// runDir/keepalived with use_pid_dir, a namespace or an instance, an
// instance NAME making them keepalived_NAME.pid, vrrp_NAME.pid and
// checkers_NAME.pid. In a namespace NS keepalived bind-mounts
// runDir/keepalived/NS on runDir/keepalived in a mount namespace of its
// own; vigild has none and writes to runDir/keepalived/NS directly, the
// same files seen from outside (a -p path in runDir/keepalived too). A
// namespace given as a path (vigild's --namespace /proc/PID/ns/net) has
// no directory of its own.
func pidFiles(o *Options, d *vigil.Daemon, runDir string) pidPaths {
	ns := namespace(o, d)
	pidDir := filepath.Join(runDir, "keepalived")
	hostDir := pidDir
	if ns != "" && !strings.Contains(ns, "/") {
		hostDir = filepath.Join(pidDir, ns)
	}
	dir := runDir
	if d.UsePidDir || ns != "" || d.Instance != "" {
		dir = hostDir
	}
	name := func(given, base string) string {
		if given != "" {
			if rest, ok := strings.CutPrefix(given, pidDir+"/"); ok {
				return filepath.Join(hostDir, rest)
			}
			return given
		}
		if d.Instance != "" {
			base += "_" + d.Instance
		}
		return filepath.Join(dir, base+".pid")
	}
	return pidPaths{main: name(o.PidFile, "keepalived"), vrrp: name(o.VRRPPidFile, "vrrp"),
		checkers: name(o.CheckersPidFile, "checkers")}
}

// daemonChange says why a reload from cur to next cannot be applied: a
// new namespace or instance name needs a restart, as keepalived's
// reload_config says ("" if it can).
func daemonChange(o *Options, cur, next *vigil.Daemon) string {
	if o.Namespace == "" && cur.NetNamespace != next.NetNamespace {
		return "Cannot change network namespace at a reload - please restart vigild"
	}
	if cur.Instance != next.Instance {
		return "Cannot change instance name at a reload - please restart vigild"
	}
	return ""
}
