package host

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/vigil-ha/vigil/acceptmode"
	"github.com/vigil-ha/vigil/internal/smallset"
	"github.com/vigil-ha/vigil/netlink"
)

// acceptAddrs is an instance's address manager on Linux: the netlink
// manager, and the instance's drops in the nftables table (under name),
// which are the VIPs the manager holds while accept is off (RFC 5798
// Accept_Mode false). A VIP enters the set before it is added and leaves
// it after it is removed, as keepalived orders them, so no packet to it
// is accepted in between.
type acceptAddrs struct {
	*netlink.AddrManager
	filter    *acceptmode.Filter // nil: nftables unavailable
	filterErr error
	name      string
	iface     string
	log       *slog.Logger

	mu      sync.Mutex
	held    smallset.Set[netip.Prefix]
	accept  bool
	dropped []netip.Addr // what the instance drops, sorted
	warned  bool         // filterErr logged
}

// AddVIPs implements vrrp.AddrManager.
func (a *acceptAddrs) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range vips {
		a.held.Add(p)
	}
	a.accept = accept
	var errs []error
	if !accept {
		errs = append(errs, a.sync())
	}
	errs = append(errs, a.AddrManager.AddVIPs(ctx, vips, accept))
	if accept {
		errs = append(errs, a.sync())
	}
	return errors.Join(errs...)
}

// RemoveVIPs implements vrrp.AddrManager.
func (a *acceptAddrs) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	err := a.AddrManager.RemoveVIPs(ctx, vips)
	return errors.Join(err, a.unhold(vips))
}

// ForgetVIPs stops holding vips, which another instance keeps on the
// interface (see netlink.AddrManager.ForgetVIPs): this instance no
// longer drops them (the table still does while the other one does).
func (a *acceptAddrs) ForgetVIPs(ctx context.Context, vips []netip.Prefix) error {
	err := a.AddrManager.ForgetVIPs(ctx, vips)
	return errors.Join(err, a.unhold(vips))
}

func (a *acceptAddrs) unhold(vips []netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range vips {
		a.held.Delete(p)
	}
	return a.sync()
}

// sync makes the instance drop the held VIPs while accept is off,
// nothing otherwise. a.mu held.
func (a *acceptAddrs) sync() error {
	var want []netip.Addr
	if !a.accept {
		for p := range a.held.All() {
			want = append(want, p.Addr().Unmap())
		}
		slices.SortFunc(want, netip.Addr.Compare)
		want = slices.Compact(want)
	}
	if slices.Equal(want, a.dropped) {
		return nil
	}
	if a.filter == nil {
		if len(want) > 0 && !a.warned {
			a.warned = true
			a.log.Error("vigil: accept mode off (no_accept) is not enforced: nftables unavailable; the VIPs accept traffic", "err", a.filterErr)
		}
		return nil
	}
	if err := a.filter.Drop(a.name, a.iface, want); err != nil {
		return err
	}
	a.dropped = want
	return nil
}

// forget removes the instance's drops (a reload removed the instance).
func (a *acceptAddrs) forget() error {
	if a.filter == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropped = nil
	return a.filter.Forget(a.name)
}
