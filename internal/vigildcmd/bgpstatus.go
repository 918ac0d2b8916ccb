package vigildcmd

import (
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil"
)

// BGPStatus is the bgp block's speaker as vigild status, /state and
// /metrics show it: its peers' sessions and what it announces.
type BGPStatus struct {
	// Peers are the configured peers with their sessions' states.
	Peers []BGPPeerStatus `json:"peers"`
	// VIPs are the configured VIPs, in the block's order.
	VIPs []BGPVIPStatus `json:"vips"`
	// Draining is set once a stop's drain has started, Drained once it
	// withdrew every route.
	Draining bool `json:"draining,omitempty"`
	Drained  bool `json:"drained,omitempty"`
}

// BGPPeerStatus is one peer's session.
type BGPPeerStatus struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// Session is the BGP FSM state, lower case: "idle", "connect",
	// "active", "opensent", "openconfirm", "established".
	Session string `json:"session"`
}

// BGPVIPStatus is one VIP's route: announced, and with GRACEFUL_SHUTDOWN
// (Draining) during a drain.
type BGPVIPStatus struct {
	Prefix    netip.Prefix `json:"prefix"`
	Announced bool         `json:"announced"`
	Draining  bool         `json:"draining,omitempty"`
}

// A bgpStatuser is a BGPSpeaker that reports its status (vigild's
// speaker does; a speaker without it shows none).
type bgpStatuser interface {
	BGPStatus() BGPStatus
}

// bgpStatus is the running speaker's status; nil without a speaker (no
// bgp block, the checker child) or with one that does not report. Safe
// from any goroutine.
func (d *daemon) bgpStatus() *BGPStatus {
	r := d.bgpNow.Load()
	if r == nil {
		return nil
	}
	s, ok := r.sp.(bgpStatuser)
	if !ok {
		return nil
	}
	st := s.BGPStatus()
	return &st
}

// stateJSON is what /state and vigild status --json print: the
// Supervisor's State, and the speaker's status under "bgp" when a bgp
// block runs.
type stateJSON struct {
	*vigil.State
	BGP *BGPStatus `json:"bgp,omitempty"`
}

// printBGP prints the speaker's sessions and routes as tables, after
// status's.
func printBGP(w io.Writer, b *BGPStatus) {
	if b == nil {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BGP PEER\tAS\tSESSION")
	for _, p := range b.Peers {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", p.Address, p.ASN, p.Session)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "BGP VIP\tANNOUNCED"
	switch {
	case b.Drained:
		head += " (drained)"
	case b.Draining:
		head += " (draining)"
	}
	fmt.Fprintln(tw, head)
	for _, v := range b.VIPs {
		a := "no"
		switch {
		case v.Draining:
			a = "yes (graceful shutdown)"
		case v.Announced:
			a = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\n", v.Prefix, a)
	}
	tw.Flush()
}

// bgpCollector is the speaker's part of /metrics.
type bgpCollector struct{ d *daemon }

var (
	bgpPeerEstablished = prometheus.NewDesc("vigil_bgp_peer_established",
		"1 while the BGP session with the peer is established, else 0.", []string{"peer", "asn"}, nil)
	bgpVIPAnnounced = prometheus.NewDesc("vigil_bgp_vip_announced",
		"1 while the VIP's route is announced, else 0.", []string{"prefix"}, nil)
	bgpVIPDraining = prometheus.NewDesc("vigil_bgp_vip_draining",
		"1 while the VIP's route is announced with GRACEFUL_SHUTDOWN (a stop's drain), else 0.", []string{"prefix"}, nil)
)

// Describe implements prometheus.Collector.
func (c bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- bgpPeerEstablished
	ch <- bgpVIPAnnounced
	ch <- bgpVIPDraining
}

// Collect implements prometheus.Collector: nothing without a speaker.
func (c bgpCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.d.bgpStatus()
	if b == nil {
		return
	}
	for _, p := range b.Peers {
		ch <- prometheus.MustNewConstMetric(bgpPeerEstablished, prometheus.GaugeValue, one(p.Session == "established"),
			p.Address.String(), fmt.Sprint(p.ASN))
	}
	for _, v := range b.VIPs {
		ch <- prometheus.MustNewConstMetric(bgpVIPAnnounced, prometheus.GaugeValue, one(v.Announced), v.Prefix.String())
		ch <- prometheus.MustNewConstMetric(bgpVIPDraining, prometheus.GaugeValue, one(v.Draining), v.Prefix.String())
	}
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
