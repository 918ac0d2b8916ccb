package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
)

// The sync daemons' commands and attributes (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdNewDaemon = 9  // IPVS_CMD_NEW_DAEMON
	ipvsCmdDelDaemon = 10 // IPVS_CMD_DEL_DAEMON
	ipvsCmdGetDaemon = 11 // IPVS_CMD_GET_DAEMON (dump only)

	ipvsCmdAttrDaemon = 3 // IPVS_CMD_ATTR_DAEMON (nested)

	ipvsDaemonAttrState      = 1 // IPVS_DAEMON_ATTR_STATE: u32 (IP_VS_STATE_MASTER 1, BACKUP 2)
	ipvsDaemonAttrMcastIfn   = 2 // IPVS_DAEMON_ATTR_MCAST_IFN: NUL-terminated
	ipvsDaemonAttrSyncID     = 3 // IPVS_DAEMON_ATTR_SYNC_ID: u32
	ipvsDaemonAttrSyncMaxLen = 4 // IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16
	ipvsDaemonAttrMcastGrp   = 5 // IPVS_DAEMON_ATTR_MCAST_GROUP: 4 bytes
	ipvsDaemonAttrMcastGrp6  = 6 // IPVS_DAEMON_ATTR_MCAST_GROUP6: 16 bytes
	ipvsDaemonAttrMcastPort  = 7 // IPVS_DAEMON_ATTR_MCAST_PORT: u16 in host order (not be16, unlike the services' ports)
	ipvsDaemonAttrMcastTTL   = 8 // IPVS_DAEMON_ATTR_MCAST_TTL: u8

	ipvsStateMaster = 1 // IP_VS_STATE_MASTER
	ipvsStateBackup = 2 // IP_VS_STATE_BACKUP
)

// StartDaemon starts the sync daemon d (IPVS_CMD_NEW_DAEMON). It returns
// an error wrapping ErrInvalid if d is invalid, ErrExists if a daemon of
// its role runs, and one wrapping syscall.ENODEV if the namespace has no
// interface d.Interface. The kernel refuses (EINVAL) while a service has
// a real server of the other family (the sync protocol cannot carry
// them). After Close it returns ErrClosed.
func (k *Kernel) StartDaemon(ctx context.Context, d SyncDaemon) error {
	what := fmt.Sprintf("start %v sync daemon on %s in %s", d.State, d.Interface, k.where)
	if err := d.Validate(); err != nil {
		return opErr(what, err)
	}
	return k.do(ctx, what, func(b *batchSocket) error {
		_, err := b.request(ipvsCmdNewDaemon, false, daemonAttr(d, true))
		return kernelErr(err, false)
	})
}

// StopDaemon stops the sync daemon of role state (IPVS_CMD_DEL_DAEMON);
// ErrNotFound if none runs, ErrClosed after Close.
func (k *Kernel) StopDaemon(ctx context.Context, state SyncState) error {
	what := fmt.Sprintf("stop %v sync daemon in %s", state, k.where)
	if state != SyncMaster && state != SyncBackup {
		return opErr(what, &FieldError{Daemon: true, State: state, Field: "State", Reason: "want master or backup"})
	}
	return k.do(ctx, what, func(b *batchSocket) error {
		_, err := b.request(ipvsCmdDelDaemon, false, daemonAttr(SyncDaemon{State: state}, false))
		return kernelErr(err, false)
	})
}

// Daemons lists the sync daemons that run (one IPVS_CMD_GET_DAEMON dump),
// master first, as the kernel holds them: its defaults filled in (MaxLen,
// Port, TTL, Group; kernels older than the attributes for them, 4.3,
// report only State, Interface and SyncID). ErrClosed after Close.
func (k *Kernel) Daemons(ctx context.Context) ([]SyncDaemon, error) {
	var out []SyncDaemon
	err := k.do(ctx, "list sync daemons in "+k.where, func(b *batchSocket) error {
		msgs, err := b.request(ipvsCmdGetDaemon, true)
		if err != nil {
			return kernelErr(err, false)
		}
		for _, m := range msgs {
			raw, err := cmdAttr(m, ipvsCmdAttrDaemon)
			if err != nil {
				return fmt.Errorf("sync daemon message: %w", err)
			}
			d, err := parseDaemon(raw)
			if err != nil {
				return fmt.Errorf("sync daemon message: %w", err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// daemonAttr encodes d: its role, and with full (IPVS_CMD_NEW_DAEMON) its
// settings, the zero ones left out (the kernel's defaults).
func daemonAttr(d SyncDaemon, full bool) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrDaemon, nil)
	st := uint32(ipvsStateMaster)
	if d.State == SyncBackup {
		st = ipvsStateBackup
	}
	a.AddRtAttr(ipvsDaemonAttrState, nl.Uint32Attr(st))
	if !full {
		return a
	}
	a.AddRtAttr(ipvsDaemonAttrMcastIfn, nl.ZeroTerminated(d.Interface))
	a.AddRtAttr(ipvsDaemonAttrSyncID, nl.Uint32Attr(uint32(d.SyncID)))
	if d.MaxLen != 0 {
		a.AddRtAttr(ipvsDaemonAttrSyncMaxLen, nl.Uint16Attr(d.MaxLen))
	}
	if g := d.Group.Unmap(); g.Is4() {
		a.AddRtAttr(ipvsDaemonAttrMcastGrp, g.AsSlice())
	} else if g.Is6() {
		a.AddRtAttr(ipvsDaemonAttrMcastGrp6, g.AsSlice())
	}
	if d.Port != 0 {
		a.AddRtAttr(ipvsDaemonAttrMcastPort, nl.Uint16Attr(d.Port))
	}
	if d.TTL != 0 {
		a.AddRtAttr(ipvsDaemonAttrMcastTTL, []byte{d.TTL})
	}
	return a
}

// parseDaemon reads the attributes nested in IPVS_CMD_ATTR_DAEMON. State,
// interface and sync id are required (every kernel sends them).
func parseDaemon(b []byte) (SyncDaemon, error) {
	var d SyncDaemon
	attrs, err := parseAttrs(b)
	if err != nil {
		return d, err
	}
	var haveIfn, haveID bool
	for _, a := range attrs {
		switch a.typ {
		case ipvsDaemonAttrState:
			var st uint32
			if st, err = attrU32("state", a); err == nil {
				switch st {
				case ipvsStateMaster:
					d.State = SyncMaster
				case ipvsStateBackup:
					d.State = SyncBackup
				default:
					err = fmt.Errorf("state %d, want master (1) or backup (2)", st)
				}
			}
		case ipvsDaemonAttrMcastIfn:
			v := a.val
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			d.Interface, haveIfn = string(v), true
		case ipvsDaemonAttrSyncID:
			var id uint32
			if id, err = attrU32("sync id", a); err == nil {
				if id > 255 {
					err = fmt.Errorf("sync id %d, want 0..255", id)
				}
				d.SyncID, haveID = uint8(id), true
			}
		case ipvsDaemonAttrSyncMaxLen:
			d.MaxLen, err = attrU16("max length", a)
		case ipvsDaemonAttrMcastGrp:
			if len(a.val) != 4 {
				err = attrLenErr("multicast group", a, 4)
			} else {
				d.Group = netip.AddrFrom4([4]byte(a.val))
			}
		case ipvsDaemonAttrMcastGrp6:
			if len(a.val) != 16 {
				err = attrLenErr("IPv6 multicast group", a, 16)
			} else {
				d.Group = netip.AddrFrom16([16]byte(a.val))
			}
		case ipvsDaemonAttrMcastPort:
			d.Port, err = attrU16("port", a)
		case ipvsDaemonAttrMcastTTL:
			d.TTL, err = attrU8("ttl", a)
		}
		if err != nil {
			return d, err
		}
	}
	if d.State == 0 || !haveIfn || !haveID {
		return d, errors.New("sync daemon without state, interface or sync id")
	}
	return d, nil
}
