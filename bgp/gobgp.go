package bgp

import (
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	gbgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// This file turns a Config into GoBGP's requests and paths.

func secs(d time.Duration) uint64 { return uint64(d / time.Second) }

// global is the StartBgp request of cfg.
func global(cfg *Config) *api.StartBgpRequest {
	port := int32(-1) // GoBGP's "do not listen"
	if cfg.ListenPort > 0 {
		port = int32(cfg.ListenPort)
	}
	return &api.StartBgpRequest{Global: &api.Global{
		Asn:        cfg.ASN,
		RouterId:   cfg.RouterID.String(),
		ListenPort: port,
	}}
}

// peerRequest is the AddPeer request of p.
func peerRequest(cfg *Config, p Peer) *api.AddPeerRequest {
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Address.Is6() {
		fam.Afi = api.Family_AFI_IP6
	}
	port := uint32(p.Port)
	if port == 0 {
		port = 179
	}
	retry := secs(connectRetry(&p))
	ap := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:               secs(holdTime(&p)),
			KeepaliveInterval:      secs(keepalive(&p)),
			ConnectRetry:           retry,
			IdleHoldTimeAfterReset: retry,
		}},
		Transport: &api.Transport{RemotePort: port, PassiveMode: p.Passive},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}},
	}
	if p.LocalAddress.IsValid() {
		ap.Transport.LocalAddress = p.LocalAddress.String()
	}
	if p.Multihop > 0 {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.Multihop)}
	}
	if gr := cfg.GracefulRestart; gr.Enabled {
		ap.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(secs(restartTime(gr)))}
		ap.AfiSafis[0].MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
	}
	return &api.AddPeerRequest{Peer: ap}
}

// path is v's route for GoBGP; draining adds GRACEFUL_SHUTDOWN and
// replaces the MED with d.MED when set.
func path(v *VIP, draining bool, d Drain) *apiutil.Path {
	nlri, _ := gbgp.NewIPAddrPrefix(v.Prefix) // Validate made the prefix valid
	fam := gbgp.RF_IPv4_UC
	nh := v.NextHop
	if !v.Prefix.Addr().Is4() {
		fam = gbgp.RF_IPv6_UC
		if !nh.IsValid() {
			nh = netip.IPv6Unspecified()
		}
	} else if !nh.IsValid() {
		nh = netip.IPv4Unspecified()
	}
	attrs := []gbgp.PathAttributeInterface{gbgp.NewPathAttributeOrigin(gbgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	if fam == gbgp.RF_IPv4_UC {
		a, _ := gbgp.NewPathAttributeNextHop(nh)
		attrs = append(attrs, a)
	} else {
		a, _ := gbgp.NewPathAttributeMpReachNLRI(fam, []gbgp.PathNLRI{{NLRI: nlri}}, nh)
		attrs = append(attrs, a)
	}
	med := v.MED
	if draining && d.MED != 0 {
		med = d.MED
	}
	if med != 0 {
		attrs = append(attrs, gbgp.NewPathAttributeMultiExitDisc(med))
	}
	if v.LocalPref != 0 {
		attrs = append(attrs, gbgp.NewPathAttributeLocalPref(v.LocalPref))
	}
	comms := make([]uint32, 0, len(v.Communities)+1)
	for _, c := range v.Communities {
		comms = append(comms, uint32(c))
	}
	if draining {
		comms = append(comms, uint32(GracefulShutdown))
	}
	if len(comms) > 0 {
		attrs = append(attrs, gbgp.NewPathAttributeCommunities(comms))
	}
	if len(v.LargeCommunities) > 0 {
		lc := make([]*gbgp.LargeCommunity, len(v.LargeCommunities))
		for i, c := range v.LargeCommunities {
			lc[i] = gbgp.NewLargeCommunity(c.ASN, c.Local1, c.Local2)
		}
		attrs = append(attrs, gbgp.NewPathAttributeLargeCommunities(lc))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs}
}
