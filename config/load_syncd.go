package config

import (
	"github.com/vigil-ha/vigil"
)

// syncDaemonWhy is the note of lvs_sync_daemon in docs/keepalived.md.
const syncDaemonWhy = "the master sync daemon runs while the instance is MASTER, the backup one otherwise " +
	"(started with Run, switched on transitions, stopped when vigild stops, restarted by a reload that changes it); " +
	"tested in the VM with the kernel's IPVS: connections reach the backup's table, and an established TCP " +
	"connection continues through the backup director after a failover (TestKernelSyncFailover)"

// lvsSyncDaemon is the handler of global_defs' lvs_sync_daemon INTERFACE
// [VRRP_INSTANCE [SYNC_ID]] [inst NAME] [id SYNC_ID] [maxlen LEN] [port
// PORT] [ttl TTL] [group IP], with keepalived's ranges and messages
// (global_parser.c: a bad option is reported and skipped). The instance
// is resolved once every instance is read (resolveSyncDaemon).
func (l *loader) lvsSyncDaemon(s *Statement) {
	if !l.args(s, 1, -1) {
		return
	}
	if l.x.syncd != nil {
		l.errorf(s.Pos, "lvs_sync_daemon has already been specified as %s %s: ignored", l.x.syncd.d.Interface, l.x.syncd.d.Instance)
		return
	}
	if len(s.Words[1]) > 15 {
		l.errorf(s.WordPos(1), "lvs_sync_daemon interface name %q too long (at most 15 bytes): ignored", s.Words[1])
		return
	}
	d := vigil.SyncDaemon{Interface: s.Words[1]}
	for i := 2; i < len(s.Words); i++ {
		opt := s.Words[i]
		switch opt {
		case "inst", "id", "maxlen", "port", "ttl", "group":
			if i == len(s.Words)-1 {
				l.errorf(s.WordPos(i), "lvs_sync_daemon: no value for %s: ignored", opt)
				continue
			}
			i++
		}
		switch opt {
		case "inst":
			if d.Instance != "" {
				l.errorf(s.WordPos(i), "lvs_sync_daemon: vrrp instance already given as %s: ignored", d.Instance)
			} else {
				d.Instance = s.Words[i]
			}
		case "id":
			if n, ok := l.intArg(s, i, 0, 255); ok {
				d.SyncID = syncID(n)
			}
		case "maxlen":
			if n, ok := l.intArg(s, i, 1, 65535-20-8); ok {
				d.MaxLen = uint16(n)
			}
		case "port":
			if n, ok := l.intArg(s, i, 1, 65535); ok {
				d.Port = uint16(n)
			}
		case "ttl":
			if n, ok := l.intArg(s, i, 1, 255); ok {
				d.TTL = uint8(n)
			}
		case "group":
			if a, ok := l.addr(s, i); ok {
				if !a.IsMulticast() {
					l.errorf(s.WordPos(i), "lvs_sync_daemon: group address %s is not multicast: ignored", a)
				} else {
					d.Group = a
				}
			}
		default:
			// keepalived's older form: lvs_sync_daemon IF VRRP_INSTANCE [SYNC_ID].
			switch i {
			case 2:
				d.Instance = opt
			case 3:
				if n, ok := l.intArg(s, i, 0, 255); ok {
					l.warnf(s.WordPos(i), `lvs_sync_daemon: please use keyword "id" before SYNC_ID`)
					d.SyncID = syncID(n)
				}
			default:
				l.errorf(s.WordPos(i), "lvs_sync_daemon: unknown option %q: ignored", opt)
			}
		}
	}
	l.x.syncd = &syncdDef{d: d, pos: s.Pos}
	l.cur.why = syncDaemonWhy
}

// syncID is vigil's SyncID for keepalived's sync id n: 0 is none
// (negative), as vigil's zero means the instance's VRID.
func syncID(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// syncdDef is the lvs_sync_daemon read, waiting for the instances.
type syncdDef struct {
	d   vigil.SyncDaemon
	pos Pos
}

// resolveSyncDaemon sets Global.SyncDaemon once every instance is read:
// keepalived starts no sync daemon without a VRRP instance, and clears it
// when the instance named does not exist.
func (l *loader) resolveSyncDaemon() {
	sd := l.x.syncd
	if sd == nil {
		return
	}
	if sd.d.Instance == "" {
		l.warnf(sd.pos, "lvs_sync_daemon: no vrrp instance given: no sync daemon is started")
		return
	}
	found := false
	for i := range l.cfg.Instances {
		found = found || l.cfg.Instances[i].VRRP.Name == sd.d.Instance
	}
	if !found {
		l.warnf(sd.pos, "lvs_sync_daemon: cannot find vrrp instance %s: no sync daemon is started", sd.d.Instance)
		return
	}
	d := sd.d
	l.cfg.Global.SyncDaemon = &d
	l.objPos["sync daemon"] = sd.pos
}
