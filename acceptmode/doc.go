// Package acceptmode enforces VRRP's Accept_Mode false (RFC 5798
// §6.4.3; keepalived's no_accept) with nftables: a master that is not
// the address owner must not accept packets addressed to its virtual
// addresses, while it still answers ARP and IPv6 neighbour discovery for
// them, so that the segment keeps sending it the traffic it routes.
//
// A Filter holds one nftables table of its own (inet "vigil" unless
// Config.Table says otherwise) in one network namespace, and touches no
// other table. The table has two base chains, input and output, of type
// filter with policy accept, at keepalived's priority (-1 unless
// Config.Priority says otherwise). Each instance given to Drop has three
// sets of its own, NAME-v4, NAME-v6 and NAME-ll (IPv6 link-local
// addresses, which are only unique on their interface), and rules
// dropping what is addressed to them on the way in and what they send on
// the way out, as keepalived's vrrp_nftables.c does:
//
//	table inet vigil {
//		set VI_1-v4 { type ipv4_addr; elements = { 192.0.2.10 } }
//		set VI_1-v6 { type ipv6_addr }
//		set VI_1-ll { type ipv6_addr }
//		chain input {
//			type filter hook input priority -1; policy accept;
//			icmpv6 type nd-neighbor-solicit accept
//			icmpv6 type nd-neighbor-advert accept
//			ip daddr @VI_1-v4 drop
//			ip6 daddr @VI_1-v6 drop
//			iifname "eth0" ip6 daddr @VI_1-ll drop
//		}
//		chain output { ... the same with saddr and oifname ... }
//	}
//
// ARP is not IP, so an inet table never sees it: the master answers ARP
// for its VIPs. Neighbour solicitations and advertisements are accepted
// before the drops, so the master answers neighbour discovery for its
// IPv6 VIPs too (the advertisement's source is the VIP).
//
// Every change is one nftables transaction: a change of an instance's
// addresses adds and deletes set elements; a new or forgotten instance
// rebuilds the table (deleting it and adding it again in the same
// transaction), so the kernel never holds a half-written table. New
// deletes a table of the same name left by an earlier run that did not
// close it (a crash); Close deletes the table.
package acceptmode
