package bgp

import (
	"errors"
	"time"

	"github.com/vigil-ha/vigil"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrRan is returned by a second call of Run: a Speaker runs once.
	ErrRan = errors.New("bgp: already ran")
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("bgp: speaker closed")
	// ErrInvalid is wrapped by every *FieldError: a configuration breaks
	// a rule, and retrying will not help.
	ErrInvalid = errors.New("bgp: invalid configuration")
)

// A FieldError says which field of which object of a Config is invalid.
// It wraps ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "speaker", "peer 192.0.2.1",
	// "vip 203.0.113.10/32".
	Object string
	// Field is the Go path of the field from the object: "HoldTime",
	// "Communities[1]".
	Field  string
	Reason string
}

// Error formats e as "bgp: peer 192.0.2.1: HoldTime: 2s is less than 3s".
func (e *FieldError) Error() string {
	return "bgp: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate reports every rule cfg breaks, each a *FieldError, joined
// (the rules are vigil.BGP.Validate's).
func (cfg *Config) Validate() error {
	b := cfg.bgp()
	var errs []error
	for _, e := range leaves(b.Validate()) {
		var fe *vigil.FieldError
		if errors.As(e, &fe) {
			errs = append(errs, &FieldError{Object: fe.Object, Field: fe.Field, Reason: fe.Reason})
		} else {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// leaves returns the errors joined in err.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// holdTime is p's hold time with the default applied.
func holdTime(p *Peer) time.Duration {
	if p.HoldTime == 0 {
		return 90 * time.Second
	}
	return p.HoldTime
}

func keepalive(p *Peer) time.Duration {
	if p.KeepaliveInterval == 0 {
		return (holdTime(p) / 3).Truncate(time.Second)
	}
	return p.KeepaliveInterval
}

func connectRetry(p *Peer) time.Duration {
	if p.ConnectRetry == 0 {
		return 5 * time.Second
	}
	return p.ConnectRetry
}

func drainTime(d Drain) time.Duration {
	switch {
	case d.Time == 0:
		return 5 * time.Second
	case d.Time < 0:
		return 0
	}
	return d.Time
}

func restartTime(g GracefulRestart) time.Duration {
	if g.RestartTime == 0 {
		return 120 * time.Second
	}
	return g.RestartTime
}
