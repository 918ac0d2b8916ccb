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

	mu      sync.Mutex
	removed bool
}

// CreateVMAC checks cfg (see VMACConfig.Validate), then creates the
// macvlan in cfg.Netns and brings it up, or reuses an existing one with
// the same name, parent and MAC. A missing parent is an error wrapping
// ErrNoInterface; an interface of that name with other settings, one
// wrapping ErrVMACConflict. The VMAC keeps a netlink socket open until
// Remove.
func CreateVMAC(cfg VMACConfig) (*VMAC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cfg.name()
	h, err := openHandle(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("netlink: vmac %s: %w", name, err)
	}
	v := &VMAC{name: name, mac: VMACAddr(cfg.VRID, cfg.IPv6), h: h}
	if err := v.setup(cfg); err != nil {
		if v.created {
			if l, lerr := v.h.LinkByName(name); lerr == nil {
				_ = v.h.LinkDel(l)
			}
		}
		v.h.Close()
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
// closes the netlink socket. A missing interface is not an error; an
// interface of that name that is no longer our macvlan is left alone and
// reported with ErrVMACConflict. Later calls do nothing.
func (v *VMAC) Remove() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed {
		return nil
	}
	v.removed = true
	defer v.h.Close()
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
