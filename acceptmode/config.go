package acceptmode

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// DefaultTable is the table a Filter holds when Config.Table is empty.
const DefaultTable = "vigil"

// DefaultPriority is the priority of the base chains when
// Config.Priority is nil: keepalived's, just before the filter chains of
// priority 0 (iptables' and most rulesets').
const DefaultPriority = -1

// maxName is the longest table or set name the kernel takes
// (NFT_NAME_MAXLEN less the terminating NUL).
const maxName = 255

// Config configures a Filter.
type Config struct {
	// Netns is the network namespace to filter in, as a path to a
	// namespace file (/run/netns/NAME, /proc/PID/ns/net); empty means the
	// namespace of the thread calling New.
	Netns string
	// Table names the inet table the Filter holds (keepalived's nftables
	// NAME); empty means DefaultTable. Two processes filtering in one
	// namespace need two names: each deletes its table at start.
	Table string
	// Priority is the priority of the input and output base chains
	// (keepalived's nftables_priority); nil means DefaultPriority.
	Priority *int32
	// Counters adds a counter to every rule (keepalived's
	// nftables_counters), shown by `nft list table inet vigil`.
	Counters bool
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem of c at once, each a *FieldError.
func (c Config) Validate() error {
	var errs []error
	if err := checkName(c.Table); err != nil {
		errs = append(errs, &FieldError{Object: "config", Field: "Table", Reason: err.Error()})
	}
	return errors.Join(errs...)
}

// table returns the table name in force.
func (c Config) table() string {
	if c.Table == "" {
		return DefaultTable
	}
	return c.Table
}

// priority returns the chain priority in force.
func (c Config) priority() int32 {
	if c.Priority == nil {
		return DefaultPriority
	}
	return *c.Priority
}

// checkName checks a table or set name as the kernel would take it.
func checkName(s string) error {
	switch {
	case len(s) > maxName:
		return fmt.Errorf("%d bytes, at most %d", len(s), maxName)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%q holds a NUL byte", s)
	}
	return nil
}
