package notify

import (
	"net/netip"
	"strconv"
	"strings"
)

//go:generate go tool stringer -type=State -linecomment -output=state_string.go

// State is what a VRRP notification reports: a state an instance or sync
// group entered, or one of the events keepalived writes to its FIFO in
// the same place. Its String is the word keepalived writes.
type State int

const (
	// StateUnknown is the zero State, written "{UNKNOWN}" as keepalived
	// writes a state it has no word for.
	StateUnknown State = iota // {UNKNOWN}
	Master                    // MASTER
	Backup                    // BACKUP
	Fault                     // FAULT
	Stop                      // STOP
	// Deleted: the instance was removed by a reload. keepalived sends it
	// only with notify_deleted, FAULT otherwise; the caller chooses.
	Deleted // DELETED
	// MasterRxLowerPri: a master received an advertisement with a lower
	// priority (keepalived's notify_master_rx_lower_pri event). FIFO
	// only.
	MasterRxLowerPri // MASTER_RX_LOWER_PRI
	// MasterPriority: a master's effective priority changed
	// (notify_priority_changes). FIFO only.
	MasterPriority // MASTER_PRIORITY
	// BackupPriority: a backup's effective priority changed
	// (notify_priority_changes). FIFO only.
	BackupPriority // BACKUP_PRIORITY
)

// word is s's keepalived word, "{UNKNOWN}" for a value out of range.
func (s State) word() string {
	if s < StateUnknown || s > BackupPriority {
		return StateUnknown.String()
	}
	return s.String()
}

// scriptWord is s's word in the arguments of a notify script:
// keepalived's notify_script_exec knows only the five states and writes
// "{UNKNOWN}" for anything else, events included.
func (s State) scriptWord() string {
	if s < Master || s > Deleted {
		return StateUnknown.String()
	}
	return s.String()
}

// InstanceLine is the FIFO line for a VRRP instance, as keepalived's
// notify_fifo writes it (keepalived/vrrp/vrrp_notify.c), newline
// included:
//
//	INSTANCE "VI_1" MASTER 100
//
// priority is the instance's effective priority. The name is written
// between double quotes as it is, without escaping.
func InstanceLine(name string, s State, priority uint8) string {
	return vrrpLine("INSTANCE", name, s, priority)
}

// GroupLine is the FIFO line for a VRRP sync group, as keepalived's
// notify_fifo writes it, newline included. The priority of a group is
// always 0:
//
//	GROUP "G1" BACKUP 0
func GroupLine(name string, s State) string {
	return vrrpLine("GROUP", name, s, 0)
}

func vrrpLine(kind, name string, s State, priority uint8) string {
	return kind + ` "` + name + `" ` + s.word() + " " + strconv.Itoa(int(priority)) + "\n"
}

// InstanceArgs are the four arguments keepalived appends to an instance's
// generic notify script (notify_script_exec in
// keepalived/vrrp/vrrp_notify.c): "INSTANCE", the name, the state and the
// effective priority. Only Master, Backup, Fault, Stop and Deleted have a
// word here; any other State is "{UNKNOWN}" (keepalived never runs the
// generic script for the FIFO-only events).
func InstanceArgs(name string, s State, priority uint8) []string {
	return []string{"INSTANCE", name, s.scriptWord(), strconv.Itoa(int(priority))}
}

// GroupArgs are the four arguments keepalived appends to a sync group's
// generic notify script: "GROUP", the name, the state and "0".
func GroupArgs(name string, s State) []string {
	return []string{"GROUP", name, s.scriptWord(), "0"}
}

// Service identifies an IPVS virtual service as keepalived names it in
// its FIFO lines and logs (format_vs in keepalived/check/check_data.c).
// The first of Group, FWMark and Addr that is set decides the form.
type Service struct {
	// Group is the virtual_server_group name of a service defined by
	// "virtual_server group NAME". It is written "[NAME]:0": keepalived
	// writes the port of the service's address, which a group service
	// never sets.
	Group string
	// FWMark is the firewall mark of a "virtual_server fwmark N"
	// service, written "FWM N".
	FWMark uint32
	// Addr and Port are the address and port of an address service,
	// written "[192.0.2.10]:tcp:80" or "[2001:db8::10]:udp:53"; an
	// IPv6 zone is left out. A zero Addr is written "(none)".
	Addr netip.Addr
	Port uint16
	// Protocol is the IP protocol number of the service (6 tcp, 17 udp,
	// 132 sctp, 0 none, anything else "?"). It is written for an address
	// service and for each of its real servers; fwmark and group
	// services set it too, for their real servers' lines.
	Protocol uint8
}

// maxServiceLen is where keepalived's format_vs cuts its text: it formats
// into a 512-byte buffer with a size of 511, which leaves 510 characters.
const maxServiceLen = 510

// String is keepalived's name for the service (format_vs): "[NAME]:0",
// "FWM 1" or "[192.0.2.10]:tcp:80". Like keepalived, it cuts the text at
// 510 bytes, which only a group name of some 500 bytes reaches.
func (s Service) String() string {
	var v string
	switch {
	case s.Group != "":
		v = "[" + s.Group + "]:0"
	case s.FWMark != 0:
		v = "FWM " + strconv.FormatUint(uint64(s.FWMark), 10)
	default:
		v = trio(s.Addr, s.Protocol, s.Port)
	}
	if len(v) > maxServiceLen {
		v = v[:maxServiceLen]
	}
	return v
}

// VSLine is the FIFO line for a virtual service's quorum, as keepalived's
// notify_fifo_vs writes it (keepalived/check/ipwrapper.c): "UP" when the
// service has quorum, "DOWN" when it lost it. keepalived has no other
// quorum line: quorum_up and quorum_down scripts come with this line.
//
//	VS [192.0.2.10]:tcp:80 UP
//	VS FWM 1 DOWN
//	VS [VSG_1]:0 UP
//
// The line ends in a newline, as in every keepalived release up to
// v2.4.3. (keepalived's development tree since commit 7fa6a176, a
// snprintf clean-up, also writes the C string's terminating NUL after
// the newline; no release does, and vigil does not.)
func VSLine(vs Service, up bool) string {
	return "VS " + vs.String() + " " + upDown(up) + "\n"
}

// RSLine is the FIFO line for a real server of a virtual service, as
// keepalived's notify_fifo_rs writes it: the real server is written with
// the service's protocol, then the service, then "UP" or "DOWN", and a
// newline (see VSLine):
//
//	RS [192.0.2.21]:tcp:8080 [192.0.2.10]:tcp:80 UP
func RSLine(rs netip.AddrPort, vs Service, up bool) string {
	return "RS " + trio(rs.Addr(), vs.Protocol, rs.Port()) + " " + vs.String() + " " + upDown(up) + "\n"
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// trio is keepalived's inet_sockaddrtotrio (lib/utils.c):
// "[ADDR]:PROTO:PORT".
func trio(a netip.Addr, proto uint8, port uint16) string {
	return "[" + ntop(a) + "]:" + protoName(proto) + ":" + strconv.Itoa(int(port))
}

// protoName is the protocol word of inet_sockaddrtotrio.
func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 132:
		return "sctp"
	case 0:
		return "none"
	}
	return "?"
}

// ntop formats a as glibc's inet_ntop does, which keepalived uses: like
// netip's RFC 5952 text, except that an IPv6 address whose first 96 bits
// are zero (and is neither :: nor ::1-like, i.e. its 7th group is not
// zero) ends in dotted IPv4 ("::1.2.3.4"). A zero Addr is "(none)".
func ntop(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	a = a.WithZone("")
	if a.Is6() && !a.Is4In6() {
		b := a.As16()
		if allZero(b[:12]) && (b[12] != 0 || b[13] != 0) {
			return "::" + netip.AddrFrom4([4]byte(b[12:])).String()
		}
	}
	return a.String()
}

func allZero(b []byte) bool {
	return strings.Count(string(b), "\x00") == len(b)
}
