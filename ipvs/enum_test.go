package ipvs_test

import (
	"fmt"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
)

// TestEnumStrings pins the String of every enum value, and of values out
// of range, as ipvsadm and the logs spell them.
func TestEnumStrings(t *testing.T) {
	for _, tt := range []struct {
		v    fmt.Stringer
		want string
	}{
		{ipvs.Protocol(0), "Protocol(0)"},
		{ipvs.TCP, "tcp"},
		{ipvs.UDP, "udp"},
		{ipvs.SCTP, "sctp"},
		{ipvs.Protocol(4), "Protocol(4)"},
		{ipvs.Scheduler(0), "Scheduler(0)"},
		{ipvs.RoundRobin, "rr"},
		{ipvs.WeightedRoundRobin, "wrr"},
		{ipvs.LeastConnection, "lc"},
		{ipvs.WeightedLeastConnection, "wlc"},
		{ipvs.LocalityLeastConnection, "lblc"},
		{ipvs.LocalityLeastConnectionRepl, "lblcr"},
		{ipvs.DestinationHashing, "dh"},
		{ipvs.SourceHashing, "sh"},
		{ipvs.ShortestExpectedDelay, "sed"},
		{ipvs.NeverQueue, "nq"},
		{ipvs.WeightedFailover, "fo"},
		{ipvs.WeightedOverflow, "ovf"},
		{ipvs.MaglevHashing, "mh"},
		{ipvs.Scheduler(14), "Scheduler(14)"},
		{ipvs.SchedFlags(0), "none"},
		{ipvs.FlagFallback, "fallback"},
		{ipvs.FlagPort, "port"},
		{ipvs.FlagFallback | ipvs.FlagPort, "fallback|port"},
		{ipvs.SchedFlags(4), "SchedFlags(0x4)"},
		{ipvs.Forward(0), "Forward(0)"},
		{ipvs.Masquerade, "masq"},
		{ipvs.Route, "route"},
		{ipvs.Tunnel, "tunnel"},
		{ipvs.Forward(4), "Forward(4)"},
		{ipvs.IPIP, "ipip"},
		{ipvs.GUE, "gue"},
		{ipvs.GRE, "gre"},
		{ipvs.TunnelType(3), "TunnelType(3)"},
		{ipvs.Op(0), "Op(0)"},
		{ipvs.OpCreateService, "create service"},
		{ipvs.OpUpdateService, "update service"},
		{ipvs.OpDeleteService, "delete service"},
		{ipvs.OpCreateDestination, "create destination"},
		{ipvs.OpUpdateDestination, "update destination"},
		{ipvs.OpDeleteDestination, "delete destination"},
		{ipvs.OpListServices, "list services"},
		{ipvs.OpListDestinations, "list destinations"},
		{ipvs.OpStartDaemon, "start sync daemon"},
		{ipvs.OpStopDaemon, "stop sync daemon"},
		{ipvs.OpListDaemons, "list sync daemons"},
		{ipvs.OpFlush, "flush"},
		{ipvs.OpReadTimeouts, "read timeouts"},
		{ipvs.OpSetTimeouts, "set timeouts"},
		{ipvs.Op(15), "Op(15)"},
		{ipvs.SyncState(0), "SyncState(0)"},
		{ipvs.SyncMaster, "master"},
		{ipvs.SyncBackup, "backup"},
		{ipvs.SyncState(3), "SyncState(3)"},
		{ipvs.QuorumSame, "same"},
		{ipvs.QuorumGained, "gained"},
		{ipvs.QuorumLost, "lost"},
		{ipvs.QuorumChange(3), "QuorumChange(3)"},
		{ipvs.QuorumChange(-1), "QuorumChange(-1)"},
		{ipvs.EventKind(0), "EventKind(0)"},
		{ipvs.EventQuorumUp, "quorum up"},
		{ipvs.EventQuorumDown, "quorum down"},
		{ipvs.EventServerUp, "real server up"},
		{ipvs.EventServerDown, "real server down"},
		{ipvs.EventKind(5), "EventKind(5)"},
	} {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%T(%d).String() = %q, want %q", tt.v, tt.v, got, tt.want)
		}
	}
	for s := ipvs.RoundRobin; s <= ipvs.MaglevHashing; s++ {
		if got, err := ipvs.ParseScheduler(s.String()); got != s || err != nil {
			t.Errorf("ParseScheduler(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ipvs.ParseScheduler("Scheduler(14)"); err == nil {
		t.Error("ParseScheduler accepted an unknown name")
	}
}
