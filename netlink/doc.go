// Package netlink is vigil's kernel side of VRRP on Linux: what a master
// does to the host and the segment, and what the host tells it back.
//
//   - AddrManager adds and removes virtual addresses on an interface
//     (IPv6 ones with nodad, IPv4 ones with an optional label), with the
//     routes and policy rules that follow them (keepalived's
//     virtual_routes and virtual_rules). It implements vrrp.AddrManager.
//   - Announcer sends keepalived's gratuitous ARP requests and unsolicited
//     neighbour advertisements in bursts, with keepalived's timing knobs
//     (Timing). It implements vrrp.Announcer.
//   - Watcher reports links going up and down, addresses added and
//     removed, and IPv6 duplicate address detection failures, and resyncs
//     itself when its netlink subscription fails or overflows.
//   - CreateVMAC makes keepalived's use_vmac macvlan with the VRRP
//     virtual MAC.
//
// Everything works in a given network namespace: pass a handle from
// vishvananda/netlink's NewHandleAt, or a netns handle, or call the
// constructor from a thread inside the namespace. Nothing here keeps
// package-level state, so many instances can share a process.
//
// Every announcement the protocol asks for reaches the wire if the
// interface can carry it: a packet socket keeps ENETDOWN from when its
// interface went down and returns it to the next send, however long ago
// the interface came back, so a failed send is tried once more at once
// (AnnouncerStats.Retries). If the interface was deleted and created
// again (new index, maybe a new MAC), the Announcer reopens its sockets on
// the interface of the same name, in its namespace, and later frames
// carry the new MAC unless one was configured (AnnouncerStats.Reopens).
// AddrManager looks an interface up again when the kernel says it is gone
// (ENODEV); netlink requests carry no error from an earlier state.
//
// Not implemented: keepalived's no_accept firewall rules. AddVIPs with
// accept=false adds the addresses as usual and logs that traffic to them
// is not dropped.
//
// The frame builders (GratuitousARP, UnsolicitedNA) and the types build on
// any OS; the rest is Linux only.
package netlink
