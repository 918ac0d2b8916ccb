package config

import "math"

// maxNFTName is keepalived's limit on an nftables table name
// (check_valid_iptables_ipset_nftables_name: shorter than
// NFT_TABLE_MAXNAMELEN - 1).
const maxNFTName = 254

// nftGlobals adds to hs the global_defs keywords of the nftables table
// that enforces no_accept (vigil.Global.NFTables).
func (l *loader) nftGlobals(hs map[string]handler) {
	nft := &l.cfg.Global.NFTables
	seen := false
	hs["nftables"] = func(s *Statement) {
		if !l.args(s, 0, 1) {
			return
		}
		if seen {
			// keepalived's vrrp_nftables_handler keeps the first.
			l.errorf(s.Pos, "nftables already specified: ignored")
			return
		}
		name := ""
		if len(s.Words) == 2 {
			name = s.Words[1]
			switch {
			case name == "":
				l.errorf(s.WordPos(1), "nftables: table name empty: ignored")
				return
			case len(name) > maxNFTName:
				l.errorf(s.WordPos(1), "nftables: table name too long (%d bytes, at most %d): ignored", len(name), maxNFTName)
				return
			}
		}
		seen = true
		nft.Table = name
		// As keepalived: nftables sets the priority back to the default,
		// so a nftables_priority before it is lost.
		nft.Priority = nil
		l.cur.why = "the table is inet NAME (keepalived's: ip NAME and ip6 NAME); without NAME it is inet vigil. " +
			"no_accept uses it whether or not this keyword is given"
	}
	hs["nftables_priority"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, math.MinInt32, math.MaxInt32); ok {
				p := int32(n)
				nft.Priority = &p
			}
		}
	}
	hs["nftables_counters"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			nft.Counters = true
		}
	}
}
