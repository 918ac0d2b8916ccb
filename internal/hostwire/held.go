// Package hostwire is what vigil's Host (package host) and Supervisor
// (package vigil) share in wiring routers to a platform: the address
// manager that lets instances on one interface share VIPs and holds
// their excluded VIPs (Held, Table), and the application of the
// platform's interface and address events to a router.
package hostwire

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/smallset"
	"github.com/vigil-ha/vigil/netlink"
)

// Held is the router's AddrManager, remembering which VIPs the
// router holds (added and not removed since: all of them as master, a
// reload adds and removes some). Instances on one interface share a
// Table: a VIP configured in several of them is removed only when none
// of them holds it.
//
// It holds the instance's excluded VIPs (InstanceConfig.ExcludedVIPs)
// with the router's: added by the AddVIPs that makes the router hold a
// VIP, removed by the RemoveVIPs that leaves it holding none. The router
// never sees them, so they are not in its adverts.
type Held struct {
	Writer
	link  string
	table *Table
	mu    sync.Mutex
	held  smallset.Set[netip.Addr] // written: the router's and the excluded
	own   smallset.Set[netip.Addr] // the router's
	// excluded are the excluded VIPs, opts their options (NoTrack), and
	// accept the last AddVIPs's accept.
	excluded []netip.Prefix
	opts     map[netip.Prefix]netlink.AddrOptions
	accept   bool
}

// NewHeld returns the AddrManager of a router whose VIPs are on link,
// writing through w, sharing t with the other instances of the host;
// excluded are the instance's excluded VIPs, opts the options of its
// addresses.
func NewHeld(w Writer, link string, t *Table, excluded []netip.Prefix, opts map[netip.Prefix]netlink.AddrOptions) *Held {
	return &Held{Writer: w, link: link, table: t, excluded: slices.Clone(excluded), opts: opts}
}

// Writer is what Held writes through: a *netlink.AddrManager.
type Writer interface {
	AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error
	RemoveVIPs(ctx context.Context, vips []netip.Prefix) error
}

// Table counts, per interface and address, the instances holding a
// VIP (they are master). The zero value is an empty table.
type Table struct {
	mu   sync.Mutex
	held map[vipKey]int
}

type vipKey struct {
	link string
	addr netip.Addr
}

func (a *Held) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range vips {
		a.own.Add(v.Addr().Unmap())
	}
	a.accept = accept
	if a.own.Len() > 0 {
		vips = append(slices.Clip(vips), a.excluded...)
	}
	return a.addLocked(ctx, vips, accept)
}

// addLocked writes vips and marks them held. a.mu held.
func (a *Held) addLocked(ctx context.Context, vips []netip.Prefix, accept bool) error {
	var fresh []netip.Prefix
	for _, v := range vips {
		if a.held.Add(v.Addr().Unmap()) {
			fresh = append(fresh, v)
		}
	}
	a.table.change(a.link, fresh, +1)
	return a.Writer.AddVIPs(ctx, vips, accept)
}

// RemoveVIPs removes the VIPs that no other instance on the interface
// holds. At start (the router is not master) it removes them whoever put
// them there; while another instance on the interface is master with the
// same VIP, that VIP stays.
//
// The RemoveVIPs that leaves the router holding no VIP removes the
// excluded VIPs too.
func (a *Held) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range vips {
		a.own.Delete(v.Addr().Unmap())
	}
	if a.own.Len() == 0 {
		vips = append(slices.Clip(vips), a.excluded...)
	}
	return a.removeLocked(ctx, vips)
}

// removeLocked removes vips as RemoveVIPs says. a.mu held.
func (a *Held) removeLocked(ctx context.Context, vips []netip.Prefix) error {
	var had []netip.Prefix
	for _, v := range vips {
		if a.held.Delete(v.Addr().Unmap()) {
			had = append(had, v)
		}
	}
	a.table.change(a.link, had, -1)
	unheld := a.table.unheld(a.link, vips)
	if f, ok := a.Writer.(Forgetter); ok && len(unheld) < len(vips) {
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
	return a.Writer.RemoveVIPs(ctx, unheld)
}

// Forgetter is a Writer that can stop holding VIPs without
// removing them (*netlink.AddrManager).
type Forgetter interface {
	ForgetVIPs(ctx context.Context, vips []netip.Prefix) error
}

func (t *Table) change(link string, vips []netip.Prefix, d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held == nil {
		t.held = map[vipKey]int{}
	}
	for _, v := range vips {
		k := vipKey{link, v.Addr().Unmap()}
		if t.held[k] += d; t.held[k] <= 0 {
			delete(t.held, k)
		}
	}
}

// unheld returns the VIPs of vips that no instance on link holds.
func (t *Table) unheld(link string, vips []netip.Prefix) []netip.Prefix {
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

// SetExcluded replaces the excluded VIPs (a reload): while the router
// holds VIPs, the new ones are added and the ones no longer configured
// removed.
func (a *Held) SetExcluded(ctx context.Context, excluded []netip.Prefix, opts map[netip.Prefix]netlink.AddrOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.excluded
	a.excluded, a.opts = slices.Clone(excluded), opts
	if a.own.Len() == 0 {
		return nil
	}
	var gone, added []netip.Prefix
	for _, p := range old {
		if !slices.Contains(excluded, p) {
			gone = append(gone, p)
		}
	}
	for _, p := range excluded {
		if !slices.Contains(old, p) {
			added = append(added, p)
		}
	}
	var errs []error
	if len(gone) > 0 {
		errs = append(errs, a.removeLocked(ctx, gone))
	}
	if len(added) > 0 {
		errs = append(errs, a.addLocked(ctx, added, a.accept))
	}
	return errors.Join(errs...)
}

// RestoreExcluded puts back p if it is an excluded VIP held (the router
// holds VIPs) and tracked (not NoTrack), after someone else removed it,
// and reports whether it did.
func (a *Held) RestoreExcluded(ctx context.Context, p netip.Prefix) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.own.Len() == 0 {
		return false, nil
	}
	for _, x := range a.excluded {
		if x.Addr() == p.Addr().Unmap() && !a.opts[x].NoTrack {
			return true, a.Writer.AddVIPs(ctx, []netip.Prefix{x}, a.accept)
		}
	}
	return false, nil
}

// ExcludedTimeout bounds putting back or changing excluded VIPs.
const ExcludedTimeout = 10 * time.Second

// RemovedUntracked handles the removal of address e.Addr from an
// instance's interface when the router does not: an address whose
// options say NoTrack stays removed, an excluded VIP is put back while
// held. It reports whether it handled it.
func RemovedUntracked(log *slog.Logger, e netlink.Event, name string, opts map[netip.Prefix]netlink.AddrOptions, held *Held) bool {
	a := e.Addr.Addr().Unmap()
	for p, o := range opts {
		if o.NoTrack && p.Addr() == a {
			log.Info("vigil: address removed; not put back (no_track)", "instance", name, "addr", e.Addr)
			return true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ExcludedTimeout)
	defer cancel()
	ok, err := held.RestoreExcluded(ctx, e.Addr)
	if err != nil {
		log.Error("vigil: putting back an excluded address failed", "instance", name, "addr", e.Addr, "err", err)
	} else if ok {
		log.Info("vigil: excluded address removed by someone else; put back", "instance", name, "addr", e.Addr)
	}
	return ok
}
