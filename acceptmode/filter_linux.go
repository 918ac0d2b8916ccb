package acceptmode

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/netnsfile"
)

// Filter holds vigil's nftables table in one network namespace: the
// addresses whose traffic each instance given to Drop drops, in sets the
// instances share (an address two instances drop is one element, there
// while either drops it). Its methods are safe for concurrent use; each
// change is one nftables transaction. The netlink socket is kept between
// transactions and opened again after one fails, so a failure leaves no
// unread answer behind for the next.
type Filter struct {
	cfg   Config
	log   *slog.Logger
	table *nftables.Table
	ns    *os.File // the namespace, where the socket opens

	mu     sync.Mutex // serialises changes; guards the fields below
	closed bool
	// inst is what the instances drop; have is what the kernel's sets
	// hold, valid while built (false after a failed change: the next
	// one writes the whole table).
	inst  map[string]entry
	have  [len(families)][]elem
	built bool
	// c is the socket's connection; nil until a transaction needs it
	// and after one failed.
	c *nftables.Conn
}

// New checks cfg (see Config.Validate), opens cfg.Netns and deletes a
// table named as cfg's left by an earlier run (a Filter that was not
// closed: a crash). It adds no table: the first Drop does.
func New(cfg Config) (*Filter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ns, err := netnsfile.Open(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("acceptmode: %w", err)
	}
	f := &Filter{cfg: cfg, log: logx.OrDiscard(cfg.Logger).With("table", cfg.table()), ns: ns,
		table: &nftables.Table{Family: nftables.TableFamilyINet, Name: cfg.table()},
		inst:  map[string]entry{}}
	if err := f.deleteTable(); err != nil {
		f.drop()
		ns.Close()
		return nil, err
	}
	return f, nil
}

// Table returns the name of the inet table f holds.
func (f *Filter) Table() string { return f.table.Name }

// Drop makes instance name drop the traffic to and from addrs (IPv4 and
// IPv6, link-local ones on iface only), replacing what it dropped
// before; none drops nothing. The first Drop writes the table; later
// ones add and delete elements. An invalid argument is a *FieldError;
// after Close it returns ErrClosed.
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
	f.inst[name] = entry{iface: iface, addrs: addrs}
	if err := f.apply(); err != nil {
		return fmt.Errorf("acceptmode: instance %s: %w", name, err)
	}
	f.log.Debug("acceptmode: drops changed", "instance", name, "addrs", addrs)
	return nil
}

// Forget stops instance name's drops (the elements no other instance
// shares go); when no instance is left, the table goes. Forgetting an
// unknown instance does nothing. After Close it returns ErrClosed.
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
		err = f.apply()
	}
	if err != nil {
		return fmt.Errorf("acceptmode: forget instance %s: %w", name, err)
	}
	return nil
}

// Close deletes the table (whatever it holds). Calling it again does
// nothing.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.deleteTable()
	f.drop()
	return errors.Join(err, f.ns.Close())
}

// checkInstance checks Drop's name and interface.
func checkInstance(name, iface string) error {
	var errs []error
	if name == "" {
		errs = append(errs, &FieldError{Object: "instance", Field: "name", Reason: "empty"})
	}
	if iface == "" || len(iface) >= unix.IFNAMSIZ || strings.IndexByte(iface, 0) >= 0 {
		errs = append(errs, &FieldError{Object: "instance " + name, Field: "iface", Reason: fmt.Sprintf("%q is not an interface name", iface)})
	}
	return errors.Join(errs...)
}

// conn returns the connection for a transaction, opening a socket in
// f's namespace if there is none. f.mu held or f not yet shared.
func (f *Filter) conn() (*nftables.Conn, error) {
	if f.c != nil {
		return f.c, nil
	}
	c, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(int(f.ns.Fd())))
	if err != nil {
		return nil, fmt.Errorf("nftables socket: %w", err)
	}
	f.c = c
	return c, nil
}

// flush sends c's transaction; after a failure the socket is closed, as
// answers may be left unread (ENOBUFS), and the next transaction opens
// another. f.mu held or f not yet shared.
func (f *Filter) flush(c *nftables.Conn) error {
	err := c.Flush()
	if err != nil {
		f.drop()
	}
	return err
}

// drop closes the socket, if open. f.mu held or f not yet shared.
func (f *Filter) drop() {
	if f.c != nil {
		f.c.CloseLasting()
		f.c = nil
	}
}

// deleteTable deletes the table if it exists, in one transaction (adding
// it first makes the delete succeed when it does not). f.mu held or f
// not yet shared.
func (f *Filter) deleteTable() error {
	c, err := f.conn()
	if err != nil {
		return fmt.Errorf("acceptmode: %w", err)
	}
	c.AddTable(f.table)
	c.DelTable(f.table)
	if err := f.flush(c); err != nil {
		return fmt.Errorf("acceptmode: delete table inet %s: %w", f.table.Name, err)
	}
	return nil
}

// apply makes the kernel's sets hold f.inst's elements: in one
// transaction of element changes while the table is built, else (or if
// that fails: someone deleted or flushed it) by writing the whole table.
// f.mu held.
func (f *Filter) apply() error {
	want := elements(f.inst)
	if f.built {
		err := f.update(want)
		if err == nil {
			f.have = want
			return nil
		}
		f.log.Warn("acceptmode: changing the sets failed; writing the table again", "err", err)
	}
	f.built = false
	if err := f.write(want); err != nil {
		return err
	}
	f.have, f.built = want, true
	return nil
}

// update adds and deletes elements, from f.have to want, in one
// transaction. f.mu held.
func (f *Filter) update(want [len(families)][]elem) error {
	c, err := f.conn()
	if err != nil {
		return err
	}
	n := 0
	for _, fam := range families {
		add, del := diff(f.have[fam], want[fam])
		s := f.set(fam)
		if len(del) > 0 {
			if err := c.SetDeleteElements(s, setElements(del)); err != nil {
				f.drop() // with the messages queued so far
				return err
			}
		}
		if len(add) > 0 {
			if err := c.SetAddElements(s, setElements(add)); err != nil {
				f.drop() // with the messages queued so far
				return err
			}
		}
		n += len(add) + len(del)
	}
	if n == 0 {
		return nil
	}
	return f.flush(c)
}

// write writes the whole table in one transaction: deleted (if it
// exists) and added again with its chains, rules and sets holding want.
// f.mu held.
func (f *Filter) write(want [len(families)][]elem) error {
	c, err := f.conn()
	if err != nil {
		return err
	}
	c.AddTable(f.table)
	c.DelTable(f.table)
	c.AddTable(f.table)
	prio := nftables.ChainPriority(f.cfg.priority())
	accept := nftables.ChainPolicyAccept
	chains := map[string]*nftables.Chain{}
	for _, ch := range []struct {
		name string
		hook *nftables.ChainHook
	}{{chainIn, nftables.ChainHookInput}, {chainOut, nftables.ChainHookOutput}} {
		chains[ch.name] = c.AddChain(&nftables.Chain{Name: ch.name, Table: f.table, Type: nftables.ChainTypeFilter,
			Hooknum: ch.hook, Priority: &prio, Policy: &accept})
	}
	var sets [len(families)]*nftables.Set
	for _, fam := range families {
		s := f.set(fam)
		// The set's number in the transaction, which the rules' lookups
		// name. Set by hand: the library's own counter is a global
		// shared by every Conn, without a lock.
		s.ID = uint32(fam) + 1
		if err := c.AddSet(s, setElements(want[fam])); err != nil {
			f.drop() // with the messages queued so far
			return err
		}
		sets[fam] = s
	}
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: chains[r.chain], Exprs: r.exprs(sets[r.fam], f.cfg.Counters)})
	}
	if err := f.flush(c); err != nil {
		return fmt.Errorf("write table inet %s: %w", f.table.Name, err)
	}
	return nil
}

// set returns the set of family fam, without an ID.
func (f *Filter) set(fam family) *nftables.Set {
	kt := map[family]nftables.SetDatatype{v4: nftables.TypeIPAddr, v6: nftables.TypeIP6Addr, ll: llType}[fam]
	return &nftables.Set{Table: f.table, Name: setNames[fam], KeyType: kt}
}

// llType is the link-local set's key: ipv6_addr . ifname. The set is
// not marked a concatenation (NFT_SET_CONCAT, Linux 5.6): a hash set
// with a 32-byte key needs no more, and older kernels take it.
var llType = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIFName)

// setElements returns es as set elements: the address, and for a
// link-local one its interface name padded to IFNAMSIZ.
func setElements(es []elem) []nftables.SetElement {
	out := make([]nftables.SetElement, len(es))
	for i, e := range es {
		key := e.addr.AsSlice()
		if e.family() == ll {
			key = append(key, ifname(e.iface)...)
		}
		out[i] = nftables.SetElement{Key: key}
	}
	return out
}

// ifname returns name as the kernel compares interface names: NUL
// padded to IFNAMSIZ.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// exprs returns r's expressions; s is its set (unused by a neighbour
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
	)
	if r.fam == ll {
		// The interface name in register 2, just after the address in
		// register 1: the lookup reads the 32 bytes of both.
		key := expr.MetaKeyOIFNAME
		if in {
			key = expr.MetaKeyIIFNAME
		}
		out = append(out, &expr.Meta{Key: key, Register: 2})
	}
	out = append(out, &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID})
	if counters {
		out = append(out, &expr.Counter{})
	}
	return append(out, &expr.Verdict{Kind: expr.VerdictDrop})
}
