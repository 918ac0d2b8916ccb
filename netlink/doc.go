// Package netlink is vigil's kernel side of VRRP on Linux: what a master
// does to the host and the segment, and what the host tells it back.
//
//   - AddrManager adds and removes virtual addresses on an interface
//     (IPv6 ones with nodad, IPv4 ones with an optional label), with the
//     routes and policy rules that follow them (keepalived's
//     virtual_routes and virtual_rules). It implements vrrp.AddrManager;
//     its Reconfigure applies a reload's label, routes and rules.
//   - Announcer sends keepalived's gratuitous ARP requests and unsolicited
//     neighbour advertisements in bursts, with keepalived's timing knobs
//     (AnnounceTiming). It implements vrrp.Announcer.
//   - Watcher reports interfaces going up and down, addresses added and
//     removed, and IPv6 duplicate address detection failures to its
//     Subscriptions, and resyncs itself when its kernel subscription fails
//     or overflows.
//   - CreateVMAC makes keepalived's use_vmac macvlan with the VRRP
//     virtual MAC.
//
// Everything works in a given network namespace, named in each config's
// Netns field by the path of a namespace file: /run/netns/NAME (what ip
// netns add NAME makes) or /proc/PID/ns/net. Empty means the namespace of
// the thread that calls the constructor. Each value opens what it needs
// there and closes it (Close, Remove, or the end of Run); InNamespace runs
// other code in a namespace given the same way. Nothing here keeps
// package-level state, so many instances can share a process.
//
// Invalid configuration is reported by the configs' Validate methods,
// which the constructors call, as *FieldErrors wrapping ErrInvalid.
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
// keepalived's no_accept firewall rules are not this package's: AddVIPs
// with accept=false adds the addresses as usual, and package acceptmode
// drops the traffic to them (the Linux platform of package vigil applies
// it around each AddrManager).
//
// The frame builders (GratuitousARP, UnsolicitedNA), the configs and the
// types build on any OS; the rest is Linux only. This package imports
// github.com/vishvananda/netlink as vnl.
package netlink
