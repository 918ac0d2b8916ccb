package config

import (
	"errors"
	"strconv"
	"strings"
)

//go:generate go tool stringer -type=Severity -linecomment

// ErrInvalid is wrapped by every *Error: a configuration file breaks a
// rule of keepalived's language, and reading it again will not help.
var ErrInvalid = errors.New("config: invalid configuration")

// A Pos is a place in a configuration file.
type Pos struct {
	// File is the name of the file as Read opened it (for ReadFile, an
	// absolute path).
	File string
	// Line is the 1-based line number; Col the 1-based byte column on
	// that line (a tab counts as one). A statement produced by a ~SEQ or
	// ~LST generator or by a multi-line $ definition is placed on the line
	// of the generator or of the $NAME reference that produced it.
	Line, Col int
	// IncludedFrom is the position of the include directive that brought
	// File in; nil for the main file.
	IncludedFrom *Pos
}

// String formats p as "file:line:col" (without the include chain), or
// as "file" when it names a whole file (Line 0).
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	s := strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
	if p.File != "" {
		s = p.File + ":" + s
	}
	return s
}

// A Severity says what keepalived does about a problem.
type Severity int

const (
	// SeverityError: keepalived reports the problem and runs anyway
	// (with the offending line or block ignored).
	SeverityError Severity = iota // error
	// SeverityFatal: keepalived cannot run this configuration (its
	// CONFIG_FILE_NOT_FOUND: the main file, or a file an includer,
	// includem, includew, includeb or includea directive requires, is
	// missing or unreadable).
	SeverityFatal // fatal
	// SeverityWarning: keepalived only logs the problem (an include that
	// matches nothing, for instance).
	SeverityWarning // warning
)

// An Error is one problem found while reading a configuration, at a
// position. It wraps ErrInvalid.
type Error struct {
	Pos      Pos
	Severity Severity
	Msg      string
}

// Error formats e as "file:line:col: msg", followed by the include chain
// when the file was included: " (included from a.conf:3:1)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(e.Msg)
	for p := e.Pos.IncludedFrom; p != nil; p = p.IncludedFrom {
		b.WriteString(" (included from ")
		b.WriteString(p.String())
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// An ErrorList is every error Read found, in the order it found them.
type ErrorList []*Error

// Error formats the list one error a line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors of the list, so errors.Is(err, ErrInvalid)
// and errors.As(err, &e) with e an *Error work on it.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
