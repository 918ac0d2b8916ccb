package vigildcmd

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp/bgpstate"
)

// A bgpStater is a BGPSpeaker that reports its state (vigild's
// speaker, a *bgp.Speaker, does; a speaker without it shows none). The
// state's types are package bgpstate's, which does not import GoBGP, so
// that a vigild built without BGP has them too.
type bgpStater interface {
	State() bgpstate.State
}

// bgpStatus is the running speaker's status; nil without a speaker (no
// bgp block, the checker child) or with one that does not report. Safe
// from any goroutine.
func (d *daemon) bgpStatus() *bgpstate.State {
	r := d.bgpNow.Load()
	if r == nil {
		return nil
	}
	s, ok := r.sp.(bgpStater)
	if !ok {
		return nil
	}
	st := s.State()
	return &st
}

// stateJSON is what /state and vigild status --json print: the
// Supervisor's State, and the speaker's status under "bgp" when a bgp
// block runs.
type stateJSON struct {
	*vigil.State
	BGP *bgpstate.State `json:"bgp,omitempty"`
}

// printBGP prints the speaker's sessions and routes as tables, after
// status's.
func printBGP(w io.Writer, b *bgpstate.State) {
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
