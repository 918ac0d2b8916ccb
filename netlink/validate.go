package netlink

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// maxNameLen is the longest interface name (IFNAMSIZ - 1).
const maxNameLen = 15

// problems collects the *FieldErrors of one object.
type problems struct {
	obj  string
	errs []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Object: p.obj, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// name checks an interface name; empty is a problem if required.
func (p *problems) name(field, name string, required bool) {
	switch {
	case name == "" && required:
		p.add(field, "empty, want an interface name")
	case len(name) > maxNameLen:
		p.add(field, "%q is longer than %d bytes", name, maxNameLen)
	}
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// on names an object on an interface: "announcer on eth0".
func on(what, iface string) string {
	if iface == "" {
		return what
	}
	return what + " on " + iface
}

// Validate reports every invalid field of c, each as a *FieldError
// wrapping ErrInvalid, joined. NewAddrManager calls it.
func (c AddrConfig) Validate() error {
	p := problems{obj: on("address manager", c.Interface)}
	p.name("Interface", c.Interface, true)
	if c.Label != "" && (!strings.HasPrefix(c.Label, c.Interface) || len(c.Label) > maxNameLen) {
		p.add("Label", "%q must start with the interface name %q and be at most %d bytes", c.Label, c.Interface, maxNameLen)
	}
	for _, r := range c.Routes {
		p.errs = append(p.errs, r.validate(p.obj+": route "+r.String())...)
	}
	for _, r := range c.Rules {
		p.errs = append(p.errs, r.validate(p.obj+": rule "+r.String())...)
	}
	for a, o := range c.Options {
		p.errs = append(p.errs, o.validate(p.obj+": address "+a.String(), a)...)
	}
	return p.err()
}

// Validate reports every invalid field of c, each as a *FieldError
// wrapping ErrInvalid, joined. NewAnnouncer calls it.
func (c AnnouncerConfig) Validate() error {
	p := problems{obj: on("announcer", c.Interface)}
	p.name("Interface", c.Interface, true)
	if c.MAC != nil && len(c.MAC) != 6 {
		p.add("MAC", "%v is not an Ethernet MAC (6 bytes)", c.MAC)
	}
	return p.err()
}

// Validate reports every invalid field of c, each as a *FieldError
// wrapping ErrInvalid, joined. NewWatcher calls it.
func (c WatcherConfig) Validate() error {
	p := problems{obj: "watcher"}
	p.name("Interface", c.Interface, false)
	return p.err()
}

// Validate reports every invalid field of c, each as a *FieldError
// wrapping ErrInvalid, joined. CreateVMAC calls it.
func (c VMACConfig) Validate() error {
	p := problems{obj: "vmac " + c.name()}
	p.name("Parent", c.Parent, true)
	if c.VRID == 0 {
		p.add("VRID", "0, want 1..255")
	}
	p.name("Name", c.name(), false)
	return p.err()
}

// name is the macvlan's name, keepalived's "vrrp.{VRID}" by default.
func (c VMACConfig) name() string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("vrrp.%d", c.VRID)
}

// validate returns r's problems as *FieldErrors of obj.
func (r Route) validate(obj string) []error {
	p := problems{obj: obj}
	if !r.Dst.IsValid() {
		p.add("Dst", "missing")
		return p.errs
	}
	is4 := r.Dst.Addr().Is4()
	for _, a := range []struct {
		field string
		addr  netip.Addr
	}{{"Gw", r.Gw}, {"Src", r.Src}} {
		if a.addr.IsValid() && a.addr.Is4() != is4 {
			p.add(a.field, "%v is not of Dst's address family", a.addr)
		}
	}
	if r.Type > RouteProhibit {
		p.add("Type", "%v is not a route type", r.Type)
	} else if r.Type != RouteUnicast && r.Gw.IsValid() {
		p.add("Gw", "set, but a %v route has no gateway", r.Type)
	}
	p.name("Interface", r.Interface, false)
	if r.Table < 0 {
		p.add("Table", "%d is negative", r.Table)
	}
	if r.Metric < 0 {
		p.add("Metric", "%d is negative", r.Metric)
	}
	p.errs = append(p.errs, r.validatePaths(obj)...)
	return p.errs
}

// validate returns r's problems as *FieldErrors of obj.
func (r Rule) validate(obj string) []error {
	p := problems{obj: obj}
	if !r.From.IsValid() && !r.To.IsValid() {
		p.add("From", "neither From nor To is set")
	}
	if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is4() != r.To.Addr().Is4() {
		p.add("To", "%v is not of From's address family", r.To)
	}
	if r.Table <= 0 {
		p.add("Table", "%d, want a table (1 or more)", r.Table)
	}
	if r.Priority < 0 {
		p.add("Priority", "%d is negative", r.Priority)
	}
	p.name("IifName", r.IifName, false)
	p.name("OifName", r.OifName, false)
	return p.errs
}
