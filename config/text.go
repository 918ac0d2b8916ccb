package config

import "strings"

// maxBuf is keepalived's MAXBUF: a physical line holds at most
// maxBuf-2 bytes before its newline, and a line after $ substitution
// fewer than maxBuf bytes.
const maxBuf = 1024

// A text is a line being processed, with the column each byte came from
// on its origin line, so positions survive comment stripping and
// substitution. Substituted text takes the column of its '$'.
//
// Most lines keep their bytes where they were: then cols is nil and byte
// i is at column base+i, so a plain line costs no column table.
type text struct {
	s    string
	cols []int // nil: byte i is at column base+i
	base int
}

func newText(s string) text { return text{s: s, base: 1} }

func (t text) slice(i, j int) text {
	if t.cols == nil {
		return text{s: t.s[i:j], base: t.base + i}
	}
	return text{s: t.s[i:j], cols: t.cols[i:j]}
}

func (t text) from(i int) text { return t.slice(i, len(t.s)) }

// col is the column of byte i (the end of the text for i == len).
func (t text) col(i int) int {
	switch {
	case t.cols == nil:
		if t.base == 0 {
			return 1 + i
		}
		return t.base + i
	case i < len(t.cols):
		return t.cols[i]
	case len(t.cols) > 0:
		return t.cols[len(t.cols)-1] + 1
	}
	return 1
}

// columns returns the column of every byte.
func (t text) columns() []int {
	if t.cols != nil {
		return t.cols
	}
	cols := make([]int, len(t.s))
	for i := range cols {
		cols[i] = t.col(i)
	}
	return cols
}

// replace replaces bytes [i, j) with s, at column col.
func (t text) replace(i, j int, s string, col int) text {
	tc := t.columns()
	cols := make([]int, 0, len(tc)-(j-i)+len(s))
	cols = append(cols, tc[:i]...)
	for range len(s) {
		cols = append(cols, col)
	}
	cols = append(cols, tc[j:]...)
	return text{s: t.s[:i] + s + t.s[j:], cols: cols}
}

// trimLeft removes leading spaces and tabs.
func (t text) trimLeft() text {
	i := 0
	for i < len(t.s) && isBlank(t.s[i]) {
		i++
	}
	return t.from(i)
}

// trimRight removes trailing spaces and tabs.
func (t text) trimRight() text {
	j := len(t.s)
	for j > 0 && isBlank(t.s[j-1]) {
		j--
	}
	return t.slice(0, j)
}

// A line is a logical line with where it came from.
type line struct {
	text
	org origin
}

// An origin is the physical line a logical line was read or generated
// from.
type origin struct {
	file *fileRef
	line int
}

// A fileRef names a file being read and the include site that opened it.
type fileRef struct {
	name string
	from *Pos
}

func (o origin) pos(col int) Pos {
	p := Pos{Line: o.line, Col: col}
	if o.file != nil {
		p.File, p.IncludedFrom = o.file.name, o.file.from
	}
	return p
}

func (l line) pos(i int) Pos { return l.org.pos(l.col(i)) }

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

func isNameByte(c byte) bool { return isAlnum(c) || c == '_' }

// at returns s[i], or 0 past the end (C's terminating NUL).
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// span is C's strspn from i: the index of the first byte of s from i
// not in set.
func span(s string, i int, set string) int {
	for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
		i++
	}
	return i
}

// cspan is C's strcspn from i: the index of the first byte of s from i
// in set (len(s) if none).
func cspan(s string, i int, set string) int {
	for i < len(s) && strings.IndexByte(set, s[i]) < 0 {
		i++
	}
	return i
}
