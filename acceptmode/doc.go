// Package acceptmode enforces VRRP's Accept_Mode false (RFC 5798
// §6.4.3; keepalived's no_accept) with nftables: a master that is not
// the address owner must not accept packets addressed to its virtual
// addresses, while it still answers ARP and IPv6 neighbour discovery for
// them, so that the segment keeps sending it the traffic it routes.
//
// A Filter holds one nftables table of its own (inet "vigil" unless
// Config.Table says otherwise) in one network namespace, and touches no
// other table. As keepalived's vrrp_nftables.c, the table has two base
// chains, input and output, of type filter with policy accept, at
// keepalived's priority (-1 unless Config.Priority says otherwise), and
// sets of the addresses to drop, shared by the instances: vips4, vips6
// and vipsll (IPv6 link-local addresses with the interface they are on,
// as they are only unique there). What arrives for them and what leaves
// from them is dropped:
//
//	table inet vigil {
//		set vips4 { type ipv4_addr; elements = { 192.0.2.10 } }
//		set vips6 { type ipv6_addr; elements = { 2001:db8::10 } }
//		set vipsll { type ipv6_addr . ifname; elements = { fe80::10 . "eth0" } }
//		chain input {
//			type filter hook input priority filter - 1; policy accept;
//			icmpv6 type nd-neighbor-solicit accept
//			icmpv6 type nd-neighbor-advert accept
//			ip daddr @vips4 drop
//			ip6 daddr @vips6 drop
//			ip6 daddr . iifname @vipsll drop
//		}
//		chain output { ... the same with saddr and oifname ... }
//	}
//
// The Filter keeps, per instance (Drop's name), the addresses it drops;
// an address two instances drop is one element, deleted when neither
// drops it any more.
//
// ARP is not IP, so an inet table never sees it: the master answers ARP
// for its VIPs. Neighbour solicitations and advertisements are accepted
// before the drops, so the master answers neighbour discovery for its
// IPv6 VIPs too (the advertisement's source is the VIP).
//
// Every change is one nftables transaction of a few messages, whatever
// the number of instances: the elements added and deleted. The first
// Drop writes the whole table in one transaction (deleting one that
// exists), as does a change that fails because someone deleted or
// flushed the table, so the kernel never holds a half-written table.
// New deletes a table of the same name left by an earlier run that did
// not close it (a crash); Close deletes the table.
package acceptmode
