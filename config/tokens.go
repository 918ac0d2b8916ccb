package config

import (
	"fmt"
	"strings"
)

// whiteSpace is keepalived's WHITE_SPACE_STR.
const whiteSpace = " \t\f\n\r\v"

// quotedKeywords are the keywords keepalived installs with
// install_keyword_quoted: they re-split their line with SplitQuoted, so
// an unmatched '"' after their second word is not an error.
var quotedKeywords = map[string]bool{
	"startup_script": true, "shutdown_script": true,
	"notify_fifo_script": true, "vrrp_notify_fifo_script": true, "lvs_notify_fifo_script": true,
	"notify_master": true, "notify_backup": true, "notify_fault": true, "notify_stop": true,
	"notify_deleted": true, "notify": true, "notify_master_rx_lower_pri": true,
	"script": true, "misc_path": true, "quorum_up": true, "quorum_down": true,
	"notify_up": true, "notify_down": true,
}

// fieldArena hands out the words and columns of many lines from shared
// arrays, a few hundred lines an allocation. The arrays handed out since
// the last take go, with the builder's, into the treeArena of the
// statement they hold, and come back through give to be used again.
type fieldArena struct {
	words []string
	cols  []int
	// used are the arrays handed out since take; spare those to use
	// before allocating.
	usedWords, spareWords [][]string
	usedCols, spareCols   [][]int
}

const fieldArenaSize = 512

// fields splits a logical line into words as keepalived's alloc_strvec_r
// does: words are separated by white space; a word starting with '"'
// runs to the next '"' (the quotes removed, nothing escaped); a '"'
// inside a word ends it. It returns the number of words and the index in
// ln.s of an unmatched '"' (-1 if none), where splitting stopped; carve
// then returns the words and the column of each on the line's origin.
func fields(ln line) (n, unmatched int) {
	return splitFields(ln.s, nil)
}

// carve returns the n words of ln (see fields) and their columns, carved
// from a's arrays, each slice capped at its length, so that appending to
// one never reaches another line's.
func (a *fieldArena) carve(ln line, n int) (words []string, cols []int) {
	if len(a.words)+n > cap(a.words) {
		a.grow(n)
	}
	start := len(a.words)
	splitFields(ln.s, func(w string, i int) {
		a.words, a.cols = append(a.words, w), append(a.cols, ln.col(i))
	})
	end := len(a.words)
	return a.words[start:end:end], a.cols[start:end:end]
}

// grow continues in arrays with room for n more words: spare ones if
// they are big enough, new ones otherwise.
func (a *fieldArena) grow(n int) {
	if k := len(a.spareWords); k > 0 && cap(a.spareWords[k-1]) >= n && cap(a.spareCols[k-1]) >= n {
		a.words, a.cols = a.spareWords[k-1][:0], a.spareCols[k-1][:0]
		a.spareWords, a.spareCols = a.spareWords[:k-1], a.spareCols[:k-1]
	} else {
		a.words = make([]string, 0, max(fieldArenaSize, n))
		a.cols = make([]int, 0, max(fieldArenaSize, n))
	}
	a.usedWords, a.usedCols = append(a.usedWords, a.words), append(a.usedCols, a.cols)
}

// take returns the arrays handed out since the last take and starts
// new ones for the next line.
func (a *fieldArena) take() (words [][]string, cols [][]int) {
	words, cols = a.usedWords, a.usedCols
	a.usedWords, a.usedCols = nil, nil
	a.words, a.cols = nil, nil
	return words, cols
}

// give makes words and cols (from take) the arrays to use next.
func (a *fieldArena) give(words [][]string, cols [][]int) {
	a.spareWords, a.spareCols = append(a.spareWords, words...), append(a.spareCols, cols...)
}

// splitFields is fields' scan of s: it calls put (if not nil) with each
// word and its index in s, and returns the number of words and the index
// of an unmatched '"' (-1 if none).
func splitFields(s string, put func(w string, i int)) (n, unmatched int) {
	p := 0
	for {
		for p < len(s) && isSpace(s[p]) { // whiteSpace
			p++
		}
		if p == len(s) {
			return n, -1
		}
		if s[p] == '"' {
			end := strings.IndexByte(s[p+1:], '"')
			if end < 0 {
				return n, p
			}
			if put != nil {
				put(s[p+1:p+1+end], p)
			}
			n++
			p += end + 2
			continue
		}
		end := p
		for end < len(s) && !isSpace(s[end]) && s[end] != '"' {
			end++
		}
		if put != nil {
			put(s[p:end], p)
		}
		n++
		p = end
	}
}

// SplitQuoted splits a command line into words as keepalived does for
// the keywords that take a script (notify_master, script, misc_path, ...;
// alloc_strvec_quoted_escaped): words are separated by white space, '"'
// and '\” quote (also in the middle of a word, the quotes removed), and a
// backslash escapes the next byte. With escapes, \a \b \E \f \n \r \t \v,
// \NNN (octal), \xHH and \cX are decoded as well; without, the backslash
// is kept. A missing closing quote or a final backslash is an error
// wrapping ErrInvalid.
func SplitQuoted(s string, escapes bool) ([]string, error) {
	var words []string
	p := 0
	for {
		p = span(s, p, whiteSpace)
		if p == len(s) {
			return words, nil
		}
		var w []byte
		var quote byte
	word:
		for p < len(s) {
			c := s[p]
			switch {
			case c == '\\':
				p++
				if p == len(s) {
					return nil, fmt.Errorf("%w: missing escape char at end: '%s'", ErrInvalid, s)
				}
				if !escapes {
					w = append(w, '\\', s[p])
					p++
					continue
				}
				var b byte
				b, p = unescapeAt(s, p)
				w = append(w, b)
			case quote != 0 && c == quote:
				quote = 0
				p++
			case quote != 0:
				w = append(w, c)
				p++
			case c == '"' || c == '\'':
				quote = c
				p++
			case strings.IndexByte(whiteSpace, c) >= 0:
				break word
			default:
				w = append(w, c)
				p++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("%w: string '%s': missing terminating %c", ErrInvalid, s, quote)
		}
		words = append(words, string(w))
	}
}

// unescapeAt decodes the escape whose first byte after the backslash is
// s[p], returning the byte and the index after the escape.
func unescapeAt(s string, p int) (byte, int) {
	c := s[p]
	switch {
	case c == 'x' && hexVal(at(s, p+1)) >= 0:
		var b byte
		p++
		for i := 0; i < 2 && hexVal(at(s, p)) >= 0; i++ {
			b = b<<4 | byte(hexVal(s[p]))
			p++
		}
		return b, p
	case c == 'c' && p+1 < len(s):
		return s[p+1] & 0x1f, p + 2
	case c >= '0' && c <= '7':
		b := c - '0'
		p++
		for i := 0; i < 2 && at(s, p) >= '0' && at(s, p) <= '7'; i++ {
			b = b<<3 + (s[p] - '0')
			p++
		}
		return b, p
	}
	switch c {
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 'E':
		c = 0x1b
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'v':
		c = '\v'
	}
	return c, p + 1
}
