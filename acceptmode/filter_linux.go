package acceptmode

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/netnsfile"
)

// Filter holds vigil's nftables table in one network namespace: for each
// instance given to Drop, the addresses whose traffic is dropped. Its
// methods are safe for concurrent use; each change is one nftables
// transaction.
type Filter struct {
	cfg   Config
	log   *slog.Logger
	table *nftables.Table

	mu     sync.Mutex // serialises changes; guards the fields below
	conn   *nftables.Conn
	closed bool
	// inst is what the table should hold; built says that the kernel
	// holds it (false after a failed change: the next one rebuilds).
	inst  map[string]entry
	built bool
	// setID numbers the sets within a transaction (the library's own
	// counter is a global shared by every Conn, without a lock).
	setID uint32
}

// New checks cfg (see Config.Validate), opens an nftables netlink socket
// in cfg.Netns and deletes a table named as cfg's left by an earlier run
// (a Filter that was not closed: a crash). It adds no table: the first
// Drop does.
func New(cfg Config) (*Filter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ns, err := netnsfile.Open(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("acceptmode: %w", err)
	}
	defer ns.Close()
	// A lasting socket is bound to the namespace when it is made: the
	// namespace file is not needed after.
	conn, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		return nil, fmt.Errorf("acceptmode: nftables socket: %w", err)
	}
	f := &Filter{cfg: cfg, log: logx.OrDiscard(cfg.Logger).With("table", cfg.table()), conn: conn,
		table: &nftables.Table{Family: nftables.TableFamilyINet, Name: cfg.table()},
		inst:  map[string]entry{}}
	if err := f.deleteTable(); err != nil {
		conn.CloseLasting()
		return nil, err
	}
	return f, nil
}

// Table returns the name of the inet table f holds.
func (f *Filter) Table() string { return f.table.Name }

// Drop makes instance name drop the traffic to and from addrs (IPv4 and
// IPv6, link-local ones on iface only), replacing the addresses it
// dropped before; none leaves the instance's sets empty. The change is
// one transaction: the elements added and deleted, or, for an instance
// new to the table (or an iface changed), the table rebuilt. An invalid
// argument is a *FieldError; after Close it returns ErrClosed.
func (f *Filter) Drop(name, iface string, addrs []netip.Addr) error {
	if err := checkInstance(name, iface); err != nil {
		return err
	}
	addrs, err := normalize(name, addrs)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("acceptmode: instance %s: %w", name, ErrClosed)
	}
	old, had := f.inst[name]
	f.inst[name] = entry{iface: iface, addrs: addrs}
	if had && f.built && old.iface == iface {
		n, err := f.update(name, old.addrs, addrs)
		if err == nil {
			if n > 0 {
				f.log.Debug("acceptmode: drop set changed", "instance", name, "addrs", addrs)
			}
			return nil
		}
		// Someone changed the table under us (nft flush ruleset): put
		// it all back.
		f.log.Warn("acceptmode: updating the drop set failed; rebuilding the table", "instance", name, "err", err)
	}
	if err := f.rebuild(); err != nil {
		return fmt.Errorf("acceptmode: instance %s: %w", name, err)
	}
	f.log.Debug("acceptmode: drop set changed", "instance", name, "addrs", addrs)
	return nil
}

// Forget removes instance name's sets and rules; when no instance is
// left, the table goes. Forgetting an unknown instance does nothing.
// After Close it returns ErrClosed.
func (f *Filter) Forget(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("acceptmode: instance %s: %w", name, ErrClosed)
	}
	if _, ok := f.inst[name]; !ok {
		return nil
	}
	delete(f.inst, name)
	var err error
	if len(f.inst) == 0 {
		f.built = false
		err = f.deleteTable()
	} else {
		err = f.rebuild()
	}
	if err != nil {
		return fmt.Errorf("acceptmode: forget instance %s: %w", name, err)
	}
	return nil
}

// Close deletes the table (whatever it holds) and closes the socket.
// Calling it again does nothing.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.deleteTable()
	return errors.Join(err, f.conn.CloseLasting())
}

// checkInstance checks Drop's name and interface.
func checkInstance(name, iface string) error {
	var errs []error
	if name == "" {
		errs = append(errs, &FieldError{Object: "instance", Field: "name", Reason: "empty"})
	} else if err := checkName(name + "-v4"); err != nil {
		errs = append(errs, &FieldError{Object: "instance", Field: "name", Reason: err.Error()})
	}
	if iface == "" || len(iface) >= unix.IFNAMSIZ || slices.Contains([]byte(iface), 0) {
		errs = append(errs, &FieldError{Object: "instance " + name, Field: "iface", Reason: fmt.Sprintf("%q is not an interface name", iface)})
	}
	return errors.Join(errs...)
}

// deleteTable deletes the table if it exists, in one transaction (adding
// it first makes the delete succeed when it does not). f.mu held or f
// not yet shared.
func (f *Filter) deleteTable() error {
	f.conn.AddTable(f.table)
	f.conn.DelTable(f.table)
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("acceptmode: delete table inet %s: %w", f.table.Name, err)
	}
	return nil
}

// update changes instance name's elements from old to addrs in one
// transaction and returns how many changed. f.mu held.
func (f *Filter) update(name string, old, addrs []netip.Addr) (int, error) {
	was, now := split(old), split(addrs)
	n := 0
	for _, fam := range families {
		add, del := diff(was[fam], now[fam])
		s := f.set(name, fam)
		if len(del) > 0 {
			if err := f.conn.SetDeleteElements(s, elements(del)); err != nil {
				return 0, err
			}
		}
		if len(add) > 0 {
			if err := f.conn.SetAddElements(s, elements(add)); err != nil {
				return 0, err
			}
		}
		n += len(add) + len(del)
	}
	if n == 0 {
		return 0, nil
	}
	return n, f.conn.Flush()
}

// rebuild writes the whole table in one transaction: deleted (if it
// exists) and added again with f.inst's sets and rules. f.mu held.
func (f *Filter) rebuild() error {
	f.built = false
	c := f.conn
	c.AddTable(f.table)
	c.DelTable(f.table)
	c.AddTable(f.table)
	prio := nftables.ChainPriority(f.cfg.priority())
	accept := nftables.ChainPolicyAccept
	chains := map[string]*nftables.Chain{}
	for name, hook := range map[string]*nftables.ChainHook{chainIn: nftables.ChainHookInput, chainOut: nftables.ChainHookOutput} {
		chains[name] = c.AddChain(&nftables.Chain{Name: name, Table: f.table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: &prio, Policy: &accept})
	}
	sets := map[string]*nftables.Set{}
	for _, name := range names(f.inst) {
		byFam := split(f.inst[name].addrs)
		for _, fam := range families {
			s := f.set(name, fam)
			f.setID++
			s.ID = f.setID
			if err := c.AddSet(s, elements(byFam[fam])); err != nil {
				return err
			}
			sets[s.Name] = s
		}
	}
	for _, r := range rules(f.inst) {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: chains[r.chain], Exprs: r.exprs(sets[r.set], f.cfg.Counters)})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("write table inet %s: %w", f.table.Name, err)
	}
	f.built = true
	return nil
}

// set returns instance name's set of family fam, without an ID.
func (f *Filter) set(name string, fam family) *nftables.Set {
	kt := nftables.TypeIPAddr
	if fam != v4 {
		kt = nftables.TypeIP6Addr
	}
	return &nftables.Set{Table: f.table, Name: setName(name, fam), KeyType: kt}
}

// elements returns addrs as set elements.
func elements(addrs []netip.Addr) []nftables.SetElement {
	out := make([]nftables.SetElement, len(addrs))
	for i, a := range addrs {
		out[i] = nftables.SetElement{Key: a.AsSlice()}
	}
	return out
}

// exprs returns r's expressions; s is its set (nil for a neighbour
// discovery rule).
func (r rule) exprs(s *nftables.Set, counters bool) []expr.Any {
	var out []expr.Any
	if r.nd != 0 {
		out = append(out,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.nd}},
		)
		if counters {
			out = append(out, &expr.Counter{})
		}
		return append(out, &expr.Verdict{Kind: expr.VerdictAccept})
	}
	in := r.chain == chainIn
	if r.iface != "" {
		key := expr.MetaKeyOIFNAME
		if in {
			key = expr.MetaKeyIIFNAME
		}
		name := make([]byte, unix.IFNAMSIZ)
		copy(name, r.iface)
		out = append(out, &expr.Meta{Key: key, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name})
	}
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(16), uint32(4) // ip daddr
	if r.fam != v4 {
		proto, off, n = unix.NFPROTO_IPV6, 24, 16 // ip6 daddr
	}
	if !in {
		off -= n // saddr: just before daddr in both headers
	}
	out = append(out,
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
	)
	if counters {
		out = append(out, &expr.Counter{})
	}
	return append(out, &expr.Verdict{Kind: expr.VerdictDrop})
}
