package vigil

import (
	"context"
	"net/netip"
	"slices"
	"sync"
)

// heldAddrs is the router's AddrManager, remembering which VIPs the
// router holds (added and not removed since: all of them as master, a
// reload adds and removes some). Instances on one interface share a
// vipTable: a VIP configured in several of them is removed only when none
// of them holds it.
type heldAddrs struct {
	vipWriter
	link  string
	table *vipTable
	mu    sync.Mutex
	held  map[netip.Addr]bool
}

// vipWriter is what heldAddrs writes through: a *netlink.AddrManager.
type vipWriter interface {
	AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error
	RemoveVIPs(ctx context.Context, vips []netip.Prefix) error
}

// vipTable counts, per interface and address, the instances holding a
// VIP (they are master).
type vipTable struct {
	mu   sync.Mutex
	held map[vipKey]int
}

type vipKey struct {
	link string
	addr netip.Addr
}

func (a *heldAddrs) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held == nil {
		a.held = map[netip.Addr]bool{}
	}
	var fresh []netip.Prefix
	for _, v := range vips {
		if k := v.Addr().Unmap(); !a.held[k] {
			a.held[k] = true
			fresh = append(fresh, v)
		}
	}
	a.table.change(a.link, fresh, +1)
	return a.vipWriter.AddVIPs(ctx, vips, accept)
}

// RemoveVIPs removes the VIPs that no other instance on the interface
// holds. At start (the router is not master) it removes them whoever put
// them there; while another instance on the interface is master with the
// same VIP, that VIP stays.
func (a *heldAddrs) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var had []netip.Prefix
	for _, v := range vips {
		if k := v.Addr().Unmap(); a.held[k] {
			delete(a.held, k)
			had = append(had, v)
		}
	}
	a.table.change(a.link, had, -1)
	unheld := a.table.unheld(a.link, vips)
	if f, ok := a.vipWriter.(vipForgetter); ok && len(unheld) < len(vips) {
		// The VIPs another instance holds stay on the interface, but
		// this instance's manager no longer holds them (its routes and
		// rules go when it holds none).
		var kept []netip.Prefix
		for _, v := range vips {
			if !slices.Contains(unheld, v) {
				kept = append(kept, v)
			}
		}
		if err := f.ForgetVIPs(ctx, kept); err != nil {
			return err
		}
	}
	return a.vipWriter.RemoveVIPs(ctx, unheld)
}

// vipForgetter is a vipWriter that can stop holding VIPs without
// removing them (*netlink.AddrManager).
type vipForgetter interface {
	ForgetVIPs(ctx context.Context, vips []netip.Prefix) error
}

func (t *vipTable) change(link string, vips []netip.Prefix, d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range vips {
		k := vipKey{link, v.Addr().Unmap()}
		if t.held[k] += d; t.held[k] <= 0 {
			delete(t.held, k)
		}
	}
}

// unheld returns the VIPs of vips that no instance on link holds.
func (t *vipTable) unheld(link string, vips []netip.Prefix) []netip.Prefix {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]netip.Prefix, 0, len(vips))
	for _, v := range vips {
		if t.held[vipKey{link, v.Addr().Unmap()}] == 0 {
			out = append(out, v)
		}
	}
	return out
}
