package ipvs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxTimeout is the longest timeout SetTimeouts takes: 31 days
// (keepalived's LVS_MAX_TIMEOUT, 2678400 s).
const MaxTimeout = 31 * 24 * time.Hour

// DefaultTimeouts are the kernel's timeouts in a new namespace.
var DefaultTimeouts = Timeouts{TCP: 15 * time.Minute, TCPFin: 2 * time.Minute, UDP: 5 * time.Minute}

// Timeouts are the namespace's IPVS connection timeouts (ipvsadm --set
// TCP TCPFIN UDP), in whole seconds. A zero field in SetTimeouts leaves
// the kernel's value as it is; Timeouts reports all three.
type Timeouts struct {
	// TCP is the idle timeout of an established TCP connection.
	TCP time.Duration
	// TCPFin is the timeout of a TCP connection after a FIN.
	TCPFin time.Duration
	// UDP is the idle timeout of a UDP flow.
	UDP time.Duration
}

// IsZero reports whether t sets no timeout.
func (t Timeouts) IsZero() bool { return t == Timeouts{} }

// String formats t as ipvsadm -L --timeout does: "Timeout (tcp tcpfin
// udp): 900 120 300".
func (t Timeouts) String() string {
	return fmt.Sprintf("Timeout (tcp tcpfin udp): %d %d %d", t.TCP/time.Second, t.TCPFin/time.Second, t.UDP/time.Second)
}

// Validate reports every field of t that the kernel cannot take, each as
// a *FieldError: a timeout is 0..MaxTimeout, in whole seconds.
func (t Timeouts) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"TCP", t.TCP}, {"TCPFin", t.TCPFin}, {"UDP", t.UDP}} {
		switch {
		case f.d < 0 || f.d > MaxTimeout:
			errs = append(errs, &FieldError{Timeouts: true, Field: f.name, Reason: fmt.Sprintf("%v out of range 0..%v", f.d, MaxTimeout)})
		case f.d%time.Second != 0:
			errs = append(errs, &FieldError{Timeouts: true, Field: f.name, Reason: fmt.Sprintf("%v is not a whole number of seconds", f.d)})
		}
	}
	return errors.Join(errs...)
}

// Admin is the table-wide side of a backend, beside Backend: it empties
// the whole table and reads and sets the connection timeouts of the
// namespace. It is optional: the kernel backend and ipvstest.Table
// implement it; a caller asserts it (b.(ipvs.Admin)). After Close its
// methods return ErrClosed.
type Admin interface {
	// Flush deletes every service of the table, with its destinations,
	// whoever created them (ipvsadm -C).
	Flush(ctx context.Context) error
	// Timeouts reads the connection timeouts (ipvsadm -L --timeout).
	Timeouts(ctx context.Context) (Timeouts, error)
	// SetTimeouts sets the non-zero timeouts of t (validated first: an
	// error wrapping ErrInvalid) and leaves the others as they are
	// (ipvsadm --set).
	SetTimeouts(ctx context.Context, t Timeouts) error
}
