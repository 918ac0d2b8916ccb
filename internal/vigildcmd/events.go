package vigildcmd

import (
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net/netip"
	"slices"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vrrp"
)

// logEvents logs the Supervisor's events in keepalived's words, the
// lines operators grep for ("(VI_1) Entering MASTER STATE", "Removing
// service [192.0.2.1]:tcp:80 from VS [192.0.2.100]:tcp:80"), until
// events is closed. It calls kick for each instance's transition.
func logEvents(log *slog.Logger, events <-chan vigil.Event, kick func()) {
	for e := range events {
		if e.Kind == vigil.EventInstance {
			kick()
		}
		msg, attrs := eventLine(&e)
		if msg != "" {
			log.Info(msg, attrs...)
		}
	}
}

// eventLine is the log line of e and its attributes.
func eventLine(e *vigil.Event) (string, []any) {
	switch e.Kind {
	case vigil.EventInstance:
		attrs := []any{"from", e.From.String(), "reason", e.Reason.String(), "priority", e.Priority}
		if e.Master.IsValid() {
			attrs = append(attrs, "master", e.Master.String())
		}
		return fmt.Sprintf("(%s) Entering %s STATE", e.Instance, stateWord(e.To)), attrs
	case vigil.EventGroup:
		return fmt.Sprintf("VRRP_Group(%s) Syncing instances to %s state", e.Group, stateWord(e.To)), []any{"from", e.From.String()}
	case vigil.EventPriority:
		return fmt.Sprintf("(%s) Changing effective priority to %d", e.Instance, e.Priority), nil
	case vigil.EventTracker:
		var attrs []any
		if e.Weight != 0 {
			attrs = append(attrs, "weight", e.Weight)
		}
		if e.Up {
			return fmt.Sprintf("VRRP_Script(%s) succeeded", e.Tracker), attrs
		}
		if e.Err != "" {
			attrs = append(attrs, "err", e.Err)
		}
		return fmt.Sprintf("VRRP_Script(%s) failed", e.Tracker), attrs
	case vigil.EventServerUp:
		return fmt.Sprintf("Adding service %s to VS %s", fmtRS(e.Service, e.Dest), fmtVS(e.Service)), nil
	case vigil.EventServerDown:
		var attrs []any
		if e.Err != "" {
			attrs = append(attrs, "err", e.Err)
		}
		return fmt.Sprintf("Removing service %s from VS %s", fmtRS(e.Service, e.Dest), fmtVS(e.Service)), attrs
	case vigil.EventQuorumUp:
		return "Gained quorum for VS " + fmtVS(e.Service), nil
	case vigil.EventQuorumDown:
		return "Lost quorum for VS " + fmtVS(e.Service), nil
	}
	return "", nil
}

// stateWord is keepalived's name of a state in its logs.
func stateWord(s vrrp.State) string {
	if s == vrrp.Stopped {
		return "STOP"
	}
	return s.String()
}

// fmtVS is keepalived's FMT_VS: "[192.0.2.100]:tcp:80", "FWM 7".
func fmtVS(k ipvs.ServiceKey) string {
	if k.IsFWMark() {
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	return fmtAddr(k.Addr, k.Protocol.String(), k.Port)
}

// fmtRS is keepalived's FMT_RS: the real server with its service's
// protocol.
func fmtRS(svc ipvs.ServiceKey, d ipvs.DestinationKey) string {
	proto := "tcp"
	if !svc.IsFWMark() {
		proto = svc.Protocol.String()
	}
	return fmtAddr(d.Addr, proto, d.Port)
}

func fmtAddr(a netip.Addr, proto string, port uint16) string {
	return fmt.Sprintf("[%s]:%s:%d", a, proto, port)
}

// sortedMap iterates m by key.
func sortedMap[V any](m map[string]V) iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}
