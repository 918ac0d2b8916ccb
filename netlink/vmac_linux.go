package netlink

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h).
const in6AddrGenModeNone = 1

// VMACConfig configures CreateVMAC.
type VMACConfig struct {
	// Parent is the interface the macvlan sits on (required).
	Parent string
	// VRID is the virtual router, 1..255; it gives the MAC.
	VRID uint8
	// IPv6 selects the IPv6 virtual MAC 00:00:5e:00:02:{VRID}.
	IPv6 bool
	// Name is the macvlan's name; empty means keepalived's "vrrp.{VRID}".
	Name string
	// Handle is the netlink handle (e.g. from vnl.NewHandleAt(ns)); the
	// caller keeps owning it. Nil: one is opened in the namespace of the
	// calling thread and released by Remove.
	Handle *vnl.Handle
}

// VMAC is a macvlan interface carrying a VRRP virtual MAC, as keepalived's
// use_vmac: mode private, up, IPv6 address generation off; an IPv6 VMAC
// also gets the parent's link-local address (nodad) so adverts keep their
// source. Send adverts and announcements, and put the VIPs, on it.
type VMAC struct {
	name    string
	mac     net.HardwareAddr
	index   int
	created bool
	h       *vnl.Handle
	ownH    bool

	mu      sync.Mutex
	removed bool
}

// CreateVMAC creates the macvlan and brings it up, or reuses an existing
// one with the same name, parent and MAC.
func CreateVMAC(cfg VMACConfig) (*VMAC, error) {
	name := cfg.Name
	if name == "" {
		name = fmt.Sprintf("vrrp.%d", cfg.VRID)
	}
	switch {
	case cfg.Parent == "":
		return nil, fmt.Errorf("netlink: vmac %s: no parent link", name)
	case cfg.VRID == 0:
		return nil, fmt.Errorf("netlink: vmac %s: VRID 0", name)
	case len(name) > unix.IFNAMSIZ-1:
		return nil, fmt.Errorf("netlink: vmac %s: name longer than %d bytes", name, unix.IFNAMSIZ-1)
	}
	v := &VMAC{name: name, mac: VMACAddr(cfg.VRID, cfg.IPv6), h: cfg.Handle}
	if v.h == nil {
		h, err := vnl.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink: vmac %s: open netlink handle: %w", name, err)
		}
		v.h, v.ownH = h, true
	}
	if err := v.setup(cfg); err != nil {
		if v.created {
			if l, lerr := v.h.LinkByName(name); lerr == nil {
				_ = v.h.LinkDel(l)
			}
		}
		if v.ownH {
			v.h.Close()
		}
		return nil, err
	}
	return v, nil
}

func (v *VMAC) setup(cfg VMACConfig) error {
	parent, err := linkByName(v.h, cfg.Parent)
	if err != nil {
		return fmt.Errorf("netlink: vmac %s: parent: %w", v.name, err)
	}
	pidx := parent.Attrs().Index
	link, err := v.h.LinkByName(v.name)
	switch {
	case err == nil:
		mv, ok := link.(*vnl.Macvlan)
		if !ok || mv.ParentIndex != pidx || !bytes.Equal(mv.HardwareAddr, v.mac) || mv.Mode != vnl.MACVLAN_MODE_PRIVATE {
			return fmt.Errorf("netlink: vmac %s: %w: want macvlan mode private on %s with MAC %v, have %s on index %d with MAC %v",
				v.name, ErrVMACConflict, cfg.Parent, v.mac, link.Type(), link.Attrs().ParentIndex, link.Attrs().HardwareAddr)
		}
	case isNotFound(err):
		mv := &vnl.Macvlan{
			LinkAttrs: vnl.LinkAttrs{Name: v.name, ParentIndex: pidx, HardwareAddr: v.mac},
			Mode:      vnl.MACVLAN_MODE_PRIVATE,
		}
		if err := v.h.LinkAdd(mv); err != nil {
			return fmt.Errorf("netlink: vmac %s: create macvlan on %s: %w", v.name, cfg.Parent, err)
		}
		v.created = true
		if link, err = linkByName(v.h, v.name); err != nil {
			return fmt.Errorf("netlink: vmac: after create: %w", err)
		}
	default:
		return fmt.Errorf("netlink: vmac %s: %w", v.name, err)
	}
	// keepalived: no kernel-generated IPv6 addresses on the VMAC.
	if err := v.h.LinkSetIP6AddrGenMode(link, in6AddrGenModeNone); err != nil &&
		!errors.Is(err, unix.EAFNOSUPPORT) && !errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("netlink: vmac %s: set IPv6 address generation off: %w", v.name, err)
	}
	if cfg.IPv6 {
		if err := v.copyLinkLocal(parent, link); err != nil {
			return err
		}
	}
	if err := v.h.LinkSetUp(link); err != nil {
		return fmt.Errorf("netlink: vmac %s: set up: %w", v.name, err)
	}
	v.index = link.Attrs().Index
	return nil
}

// copyLinkLocal gives the VMAC the parent's first IPv6 link-local address.
func (v *VMAC) copyLinkLocal(parent, link vnl.Link) error {
	addrs, err := listAddrs(v.h, parent)
	if err != nil {
		return fmt.Errorf("netlink: vmac %s: list parent addresses: %w", v.name, err)
	}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if !ok || !p.Addr().Is6() || !p.Addr().IsLinkLocalUnicast() {
			continue
		}
		ll := &vnl.Addr{IPNet: ipNet(netip.PrefixFrom(p.Addr(), 64)), Flags: unix.IFA_F_NODAD}
		if err := v.h.AddrAdd(link, ll); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("netlink: vmac %s: add link-local %v: %w", v.name, p.Addr(), err)
		}
		return nil
	}
	return fmt.Errorf("netlink: vmac %s: parent has no IPv6 link-local address", v.name)
}

// Name returns the macvlan's name.
func (v *VMAC) Name() string { return v.name }

// MAC returns the virtual MAC.
func (v *VMAC) MAC() net.HardwareAddr { return bytes.Clone(v.mac) }

// Index returns the macvlan's interface index.
func (v *VMAC) Index() int { return v.index }

// Created reports whether CreateVMAC made the macvlan (false: reused).
func (v *VMAC) Created() bool { return v.created }

// Remove deletes the macvlan (keepalived removes its VMACs on stop) and
// releases the handle CreateVMAC opened. A missing link is not an error;
// a link of that name that is no longer our macvlan is left alone and
// reported with ErrVMACConflict. Later calls do nothing.
func (v *VMAC) Remove() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed {
		return nil
	}
	v.removed = true
	if v.ownH {
		defer v.h.Close()
	}
	link, err := v.h.LinkByName(v.name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("netlink: vmac %s: remove: %w", v.name, err)
	}
	if _, ok := link.(*vnl.Macvlan); !ok || !bytes.Equal(link.Attrs().HardwareAddr, v.mac) {
		return fmt.Errorf("netlink: vmac %s: remove: %w: now a %s with MAC %v", v.name, ErrVMACConflict,
			link.Type(), link.Attrs().HardwareAddr)
	}
	if err := v.h.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("netlink: vmac %s: remove: %w", v.name, err)
	}
	return nil
}
