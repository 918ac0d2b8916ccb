package config

import "strings"

//go:generate go tool stringer -type=kwStatus -linecomment

// kwStatus is what the loader did with a keyword: the status column of
// docs/keepalived.md's keyword table.
type kwStatus int

const (
	// kwSupported: mapped to what keepalived does.
	kwSupported kwStatus = iota + 1 // supported
	// kwDiffers: mapped, but vigil behaves differently (the note says
	// how); Load warns.
	kwDiffers // behaves differently
	// kwIgnored: known to keepalived, not mapped: Load warns and goes on.
	kwIgnored // ignored
	// kwRejected: known to keepalived, refused by vigil: Load reports an
	// error and goes on without it.
	kwRejected // rejected
	// kwUnknown: not a keepalived keyword of this block.
	kwUnknown // unknown
)

// kwNote is the status a handler gives its keyword.
type kwNote struct {
	st  kwStatus
	why string
}

// note reports keyword kw of the block at path with status st to the
// seen hook, if any.
func (l *loader) note(path, kw string, st kwStatus, why string) {
	if l.seen != nil {
		l.seen(path, kw, st, why)
	}
}

// differs marks the statement being handled as mapped with a different
// behaviour, and warns at s.
func (l *loader) differs(s *Statement, why string) {
	l.cur = kwNote{kwDiffers, why}
	l.warnf(s.Pos, "%s: behaves differently: %s", s.Words[0], why)
}

// blockPath turns a block's description as given to loader.block ("top
// level", "vrrp_instance VI_1: authentication") into the path of
// keywords that leads to it ("top", "vrrp_instance/authentication"):
// the first word of each ": "-separated part. Blocks are described as
// "KEYWORD ARGS" from the outermost in, joined by ": ".
func blockPath(what string) string {
	if what == "top level" {
		return "top"
	}
	parts := strings.Split(what, ": ")
	for i, p := range parts {
		parts[i], _, _ = strings.Cut(p, " ")
	}
	return strings.Join(parts, "/")
}
