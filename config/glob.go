package config

import (
	"io/fs"
	"path"
	"sort"
	"strings"
)

// maxBraceAlternatives bounds the patterns one include's braces expand
// to ({a,b}{c,d}... doubles them each time).
const maxBraceAlternatives = 256

// hasBrace says whether pattern has a '{' not escaped by '\'
// (keepalived's have_brace).
func hasBrace(pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '{':
			return true
		}
	}
	return false
}

// expandBraces expands csh-style {a,b} alternatives as glob(3) does with
// GLOB_BRACE: the first brace group is expanded, then each result in
// turn; a '{' without its '}' is literal. It returns false if there
// would be more than max patterns.
func expandBraces(pattern string, max int) ([]string, bool) {
	open := -1
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '\\' {
			i++
		} else if pattern[i] == '{' {
			open = i
			break
		}
	}
	if open < 0 {
		return []string{pattern}, true
	}
	depth := 0
	var commas []int
	closing := -1
scan:
	for i := open + 1; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			if depth == 0 {
				closing = i
				break scan
			}
			depth--
		case ',':
			if depth == 0 {
				commas = append(commas, i)
			}
		}
	}
	if closing < 0 {
		return []string{pattern}, true
	}
	var out []string
	start := open + 1
	for _, end := range append(commas, closing) {
		sub, ok := expandBraces(pattern[:open]+pattern[start:end]+pattern[closing+1:], max-len(out))
		if !ok || len(out)+len(sub) > max {
			return nil, false
		}
		out = append(out, sub...)
		start = end + 1
	}
	return out, true
}

// isWild says whether a pattern component has wildcards.
func isWild(s string) bool { return strings.ContainsAny(s, "*?[") }

// unescape removes glob backslash escapes.
func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// A globResult is what glob(3) with keepalived's GLOB_ALTDIRFUNC
// callbacks learns about one pattern.
type globResult struct {
	matches     []string // fs paths, sorted
	wild        bool     // a directory was listed (the pattern has wildcards)
	missingDir  bool     // a directory to list does not exist
	missingFile bool     // a name without wildcards does not exist
}

// glob matches pattern (no braces) against fsys, relative to the fs
// directory dir unless it starts with '/'. As glob(3) does, a wildcard
// does not match a leading '.', and "[!...]" negates.
func glob(fsys fs.FS, dir, pattern string) globResult {
	var r globResult
	if strings.HasPrefix(pattern, "/") {
		dir = "."
	}
	comps := strings.Split(pattern, "/")
	cur := []string{dir}
	last := -1
	for i, c := range comps {
		if c != "" && c != "." {
			last = i
		}
	}
	for i, c := range comps {
		if c == "" || c == "." {
			continue
		}
		final := i == last
		var next []string
		if !isWild(c) {
			for _, d := range cur {
				next = append(next, cleanPath(d, unescape(c)))
			}
			cur = next
			continue
		}
		r.wild = true
		pat := strings.ReplaceAll(c, "[!", "[^")
		for _, d := range cur {
			ents, err := fs.ReadDir(fsys, d)
			if err != nil {
				r.missingDir = true
				continue
			}
			var names []string
			for _, e := range ents {
				n := e.Name()
				if n[0] == '.' && c[0] != '.' {
					continue
				}
				if ok, err := path.Match(pat, n); err != nil || !ok {
					continue
				}
				p := cleanPath(d, n)
				if !final {
					if st, err := fs.Stat(fsys, p); err != nil || !st.IsDir() {
						continue
					}
				}
				names = append(names, p)
			}
			next = append(next, names...)
		}
		cur = next
	}
	if last < 0 || !isWild(comps[last]) {
		// The last name was taken literally: it must exist.
		var found []string
		for _, p := range cur {
			if _, err := fs.Stat(fsys, p); err != nil {
				r.missingFile = true
				continue
			}
			found = append(found, p)
		}
		cur = found
	}
	sort.Strings(cur)
	r.matches = cur
	return r
}
