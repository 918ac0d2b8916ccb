package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

//go:generate go tool stringer -type=SyncState -linecomment -output=daemon_string.go

// SyncState is the role of an IPVS connection-synchronisation daemon
// (ipvsadm --start-daemon master|backup). The zero value is invalid.
type SyncState uint8

// Sync daemon roles: a master sends the connections of its table to the
// multicast group; a backup receives them into its own table.
const (
	SyncMaster SyncState = iota + 1 // master
	SyncBackup                      // backup
)

// The kernel's defaults for a sync daemon's zero fields.
var (
	// DefaultSyncGroup is the IPv4 multicast group a daemon without a
	// Group uses (IP_VS_SYNC_GROUP).
	DefaultSyncGroup = netip.AddrFrom4([4]byte{224, 0, 0, 81})
)

// Sync daemon limits and defaults.
const (
	// DefaultSyncPort is the UDP port a daemon without a Port uses
	// (IP_VS_SYNC_PORT).
	DefaultSyncPort = 8848
	// MaxSyncMaxLen is the largest MaxLen: a UDP payload in an IPv4
	// datagram (keepalived's limit, 65535 - 20 - 8).
	MaxSyncMaxLen = 65535 - 20 - 8
	// MaxInterfaceName is the longest Interface (IP_VS_IFNAME_MAXLEN - 1).
	MaxInterfaceName = 15
)

// SyncDaemon is one of the kernel's connection-synchronisation daemons
// in a network namespace: at most one master and one backup run at a
// time. A master multicasts every connection its table makes to Group on
// Interface; a backup with the same SyncID (or SyncID 0) adds them to its
// own table, so that connections survive a failover of the director.
//
// The zero values of MaxLen, Port, TTL and Group are the kernel's
// defaults; what Daemons reads back has them filled in (MaxLen from the
// interface's MTU: 1472 with an MTU of 1500 and an IPv4 group).
type SyncDaemon struct {
	// State is the role: SyncMaster or SyncBackup (required).
	State SyncState
	// Interface sends (master) or receives (backup) the multicast
	// (required, at most MaxInterfaceName bytes).
	Interface string
	// SyncID tags a master's messages; a backup takes only the messages
	// of its SyncID, or every master's with SyncID 0.
	SyncID uint8
	// MaxLen is the largest UDP payload of a sync message, 0..MaxSyncMaxLen;
	// zero means the kernel's default (the interface's MTU less the
	// headers, at most 1500 for a master). The kernel raises a backup's
	// to at least 1024.
	MaxLen uint16
	// Port is the UDP port (the base port with several sync threads); zero
	// means DefaultSyncPort.
	Port uint16
	// TTL of the multicast; zero means 1.
	TTL uint8
	// Group is the multicast group, IPv4 or IPv6; the zero Addr means
	// DefaultSyncGroup.
	Group netip.Addr
}

// String formats d as ipvsadm -L --daemon does: "master sync daemon
// (mcast=eth0, syncid=1, maxlen=1472, group=224.0.0.81, port=8848,
// ttl=1)", with zero fields left out.
func (d SyncDaemon) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v sync daemon (mcast=%s, syncid=%d", d.State, d.Interface, d.SyncID)
	if d.MaxLen != 0 {
		fmt.Fprintf(&b, ", maxlen=%d", d.MaxLen)
	}
	if d.Group.IsValid() {
		fmt.Fprintf(&b, ", group=%v", d.Group)
	}
	if d.Port != 0 {
		fmt.Fprintf(&b, ", port=%d", d.Port)
	}
	if d.TTL != 0 {
		fmt.Fprintf(&b, ", ttl=%d", d.TTL)
	}
	b.WriteString(")")
	return b.String()
}

// Validate reports every rule of the kernel (and ipvsadm) that d breaks,
// each as a *FieldError naming the sync daemon and the field:
//
//   - State is SyncMaster or SyncBackup;
//   - Interface is set, at most MaxInterfaceName bytes, without NUL or '/';
//   - MaxLen is at most MaxSyncMaxLen;
//   - Group, when set, is a multicast address without zone (an IPv4
//     address mapped in IPv6 is unmapped by the kernel backend).
func (d SyncDaemon) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Daemon: true, State: d.State, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if d.State != SyncMaster && d.State != SyncBackup {
		bad("State", "%v, want master or backup", d.State)
	}
	switch {
	case d.Interface == "":
		bad("Interface", "empty")
	case len(d.Interface) > MaxInterfaceName:
		bad("Interface", "%q is %d bytes, at most %d", d.Interface, len(d.Interface), MaxInterfaceName)
	case strings.ContainsAny(d.Interface, "\x00/ "):
		bad("Interface", "%q is not an interface name", d.Interface)
	}
	if d.MaxLen > MaxSyncMaxLen {
		bad("MaxLen", "%d out of range 0..%d", d.MaxLen, MaxSyncMaxLen)
	}
	if d.Group.IsValid() {
		switch {
		case d.Group.Zone() != "":
			bad("Group", "%v has a zone", d.Group)
		case !d.Group.IsMulticast():
			bad("Group", "%v is not a multicast address", d.Group)
		}
	}
	return errors.Join(errs...)
}

// Normalize returns d with the kernel's defaults for its zero Port, TTL
// and Group, and Group unmapped: the form in which the kernel reports it,
// except MaxLen, whose default depends on the interface.
func (d SyncDaemon) Normalize() SyncDaemon {
	if d.Port == 0 {
		d.Port = DefaultSyncPort
	}
	if d.TTL == 0 {
		d.TTL = 1
	}
	if !d.Group.IsValid() {
		d.Group = DefaultSyncGroup
	}
	d.Group = d.Group.Unmap()
	return d
}

// Daemons is the sync-daemon side of a Backend: it starts, stops and
// lists the kernel's connection-synchronisation daemons of the
// namespace. Implementations report a daemon of a role that already runs
// with ErrExists, and the stop of a role that does not run with
// ErrNotFound, wrapped.
type Daemons interface {
	// StartDaemon starts d (validated first: an error wrapping
	// ErrInvalid).
	StartDaemon(ctx context.Context, d SyncDaemon) error
	// StopDaemon stops the daemon of role state.
	StopDaemon(ctx context.Context, state SyncState) error
	// Daemons lists the daemons that run, master first, with the
	// kernel's defaults filled in.
	Daemons(ctx context.Context) ([]SyncDaemon, error)
}
