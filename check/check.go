package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// A Checker probes one target once. Check returns nil when the target is
// healthy and an error saying why otherwise. It must honour ctx's deadline
// and cancellation, hold no health state between calls, be safe for
// concurrent use, and leave nothing behind (connections, goroutines,
// processes) when it returns.
type Checker interface {
	Check(ctx context.Context) error
}

// A WeightedChecker is a Checker whose runs may also report a weight, as
// keepalived's dynamic MISC_CHECK and FILE_CHECK do. CheckWeight runs the
// check like Check; ok reports whether this run set a weight. Each
// implementation documents what its weight means.
type WeightedChecker interface {
	Checker
	CheckWeight(ctx context.Context) (weight int, ok bool, err error)
}

// A Keyer says what a checker probes. Checkers whose keys are equal and
// non-empty probe the same target the same way, so a Group runs them once.
// All checkers in this package implement Keyer.
type Keyer interface {
	Key() string
}

// CheckerFunc adapts an ordinary function to the Checker interface, so a Go
// service can register an in-process check.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

// A validator is a checker that can tell its configuration is wrong
// before it runs. Every checker of this package with settings to get wrong
// is one; NewMonitor and Group.Add call Validate.
type validator interface {
	Validate() error
}

// A config is a checker's configuration: it names itself and can tell
// what is wrong with it.
type config interface {
	String() string
	Validate() error
}

// ready returns c's configuration errors, or ctx's error if it has ended:
// what a checker checks before it starts.
func ready(ctx context.Context, c config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("check: %s: %w", c, err)
	}
	return nil
}

// validate returns c's configuration errors, if c can tell.
func validate(c Checker) error {
	if v, ok := c.(validator); ok {
		return v.Validate()
	}
	return nil
}

// maxRead bounds what a checker reads from a target that streams forever.
const maxRead = 4 << 10

// dialTCP validates checker c and connects to addr from bind (if valid)
// and through interface iface (if not empty), with errors that name c.
func dialTCP(ctx context.Context, c config, addr netip.AddrPort, bind netip.Addr, iface string) (net.Conn, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	conn, err := dialer("tcp", bind, iface).DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("check: %s: connect: %w", c, ctxErr(ctx, err))
	}
	return conn, nil
}

// dialer returns a net.Dialer bound to bind, if valid, and to interface
// iface, if not empty.
func dialer(network string, bind netip.Addr, iface string) *net.Dialer {
	d := &net.Dialer{KeepAlive: -1, Control: bindDevice(iface)}
	if bind.IsValid() {
		switch network {
		case "udp", "udp4", "udp6":
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(bind, 0))
		default:
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(bind, 0))
		}
	}
	return d
}

// watchConn applies ctx's deadline to c and unblocks c's pending I/O when
// ctx is cancelled. The returned stop function, which must be called before
// c is closed, returns once the watch has ended.
func watchConn(ctx context.Context, c deadliner) (stop func()) {
	d, _ := ctx.Deadline()
	return watchConnUntil(ctx, c, d)
}

// watchConnUntil is watchConn with deadline d instead of ctx's; a zero d
// means none.
func watchConnUntil(ctx context.Context, c deadliner, d time.Time) (stop func()) {
	if !d.IsZero() {
		_ = c.SetDeadline(d)
	}
	done := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		defer close(done)
		_ = c.SetDeadline(time.Unix(1, 0))
	})
	return func() {
		if !stopWatch() {
			<-done
		}
	}
}

type deadliner interface{ SetDeadline(time.Time) error }

// ctxErr returns err, marked with ctx's error when ctx ended the I/O that
// failed, so callers can test for context.Canceled or DeadlineExceeded.
func ctxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil {
		var ne net.Error
		d, ok := ctx.Deadline()
		if !errors.As(err, &ne) || !ne.Timeout() || !ok || time.Now().Before(d) {
			return err
		}
		// The connection's deadline is ctx's deadline, which the runtime
		// may see a moment before ctx's own timer fires.
		cerr = context.DeadlineExceeded
	}
	if errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w: %w", cerr, err)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checkInterface returns a *FieldError for field Interface if iface is
// not an interface name the kernel takes (at most 15 bytes, no '/', no
// white space).
func checkInterface(c interface{ String() string }, iface string) error {
	if len(iface) > maxInterfaceName || strings.ContainsAny(iface, "/ \t\n\x00") {
		return invalid(c, "Interface", fmt.Sprintf("%q is not an interface name", iface))
	}
	return nil
}

// maxInterfaceName is the longest interface name (IFNAMSIZ - 1).
const maxInterfaceName = 15

// checkTarget returns a *FieldError for field of c unless ap is a usable
// target address.
func checkTarget(c interface{ String() string }, field string, ap netip.AddrPort) error {
	if ap.Addr().IsValid() && ap.Port() != 0 {
		return nil
	}
	return invalid(c, field, "no target address")
}
