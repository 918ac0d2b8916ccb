package check

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// FailureClass is a kind of check failure, for counting failures by cause
// with a bounded set of names (Stats.FailuresByClass, and the metrics'
// class label). Classify finds an error's class.
type FailureClass uint8

//go:generate go tool stringer -type=FailureClass -linecomment

// Failure classes.
const (
	// ClassOther: none of the others.
	ClassOther FailureClass = iota // other
	// ClassTimeout: the attempt's Timeout passed, or the target did not
	// answer in time (ErrNoReply, a network deadline).
	ClassTimeout // timeout
	// ClassRefused: the connection was refused (ECONNREFUSED).
	ClassRefused // refused
	// ClassReset: the connection was reset or broken (ECONNRESET,
	// EPIPE, ECONNABORTED).
	ClassReset // reset
	// ClassUnreachable: no route to the target (EHOSTUNREACH,
	// ENETUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL).
	ClassUnreachable // unreachable
	// ClassUnexpected: the target answered, but not as expected: a status
	// code, body, banner, reply or exit status (ErrUnexpected).
	ClassUnexpected // unexpected
	// ClassInvalid: the check is misconfigured (ErrInvalid).
	ClassInvalid // invalid
)

// NumFailureClasses is the number of failure classes: they are
// 0..NumFailureClasses-1.
const NumFailureClasses = int(ClassInvalid) + 1

// Classify returns err's failure class (ClassOther for nil). It does not
// allocate.
func Classify(err error) FailureClass {
	switch {
	case err == nil:
		return ClassOther
	case errors.Is(err, ErrUnexpected):
		return ClassUnexpected
	case errors.Is(err, ErrInvalid):
		return ClassInvalid
	case errors.Is(err, ErrNoReply), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ETIMEDOUT):
		return ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ClassReset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTDOWN),
		errors.Is(err, syscall.ENETDOWN), errors.Is(err, syscall.EADDRNOTAVAIL):
		return ClassUnreachable
	}
	return ClassOther
}
