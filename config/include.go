package config

import (
	"io/fs"
	"strings"
)

// An IncludeCheck is a set of keepalived's include checks (its
// include_check keyword and includer/includem/includew/includeb/includea
// directives): what makes a missing or unreadable include fatal.
type IncludeCheck uint8

const (
	// IncludeRead: every matched file must be readable.
	IncludeRead IncludeCheck = 1 << iota
	// IncludeMatch: a name without wildcards must exist.
	IncludeMatch
	// IncludeWildcardMatch: a pattern with wildcards must match.
	IncludeWildcardMatch
	// IncludeBraceMatch: every {a,b} alternative must match.
	IncludeBraceMatch

	// IncludeAll is every check (includea, keepalived -e).
	IncludeAll = IncludeRead | IncludeMatch | IncludeWildcardMatch | IncludeBraceMatch
)

// include handles a line that is an include directive (check_include):
// "include PATTERN", or includer, includem, includew, includeb, includea.
// It reports whether the line was one.
func (l *lexer) include(buf line) bool {
	s := buf.s
	if !strings.HasPrefix(s, "include") || len(s) < 8 {
		return false
	}
	var typ IncludeCheck
	p := 8
	if !isSpace(s[7]) {
		if !isSpace(at(s, 8)) {
			return false
		}
		switch s[7] {
		case 'r':
			typ = IncludeRead
		case 'm':
			typ = IncludeRead | IncludeMatch
		case 'w':
			typ = IncludeRead | IncludeMatch | IncludeWildcardMatch
		case 'b':
			typ = IncludeRead | IncludeBraceMatch
		case 'a':
			typ = IncludeAll
		default:
			return false
		}
		p = 9
	}
	from := buf.pos(0)
	l.openGlob(s[span(s, p, " \t"):], typ, &from)
	return true
}

// openGlob is open_glob_file: it matches pattern (relative to the
// directory of the file being read) and starts reading the first file
// that can be read. from is nil for the main file.
func (l *lexer) openGlob(pattern string, typ IncludeCheck, from *Pos) {
	pos := Pos{File: l.displayName(cleanPath(l.curDir(), pattern))}
	if from != nil {
		pos = *from
	}
	flags := l.check | typ
	sev := func(check IncludeCheck) Severity {
		if flags&check != 0 {
			return SeverityFatal
		}
		return SeverityWarning
	}
	if max := l.opts.maxIncludeDepth(); max >= 0 && len(l.globs) >= max {
		l.errorf(pos, SeverityError, "include '%s': includes nested more than %d deep (Options.MaxIncludeDepth) - skipping", pattern, max)
		return
	}
	alts, ok := expandBraces(pattern, maxBraceAlternatives)
	if !ok {
		l.errorf(pos, SeverityError, "include '%s': more than %d brace alternatives - skipping", pattern, maxBraceAlternatives)
		return
	}
	var files []string
	wild, missing := false, false
	for _, a := range alts {
		r := glob(l.fsys, l.curDir(), a)
		files = append(files, r.matches...)
		wild = wild || r.wild
		missing = missing || r.missingDir || r.missingFile
	}
	switch {
	case len(files) == 0 && missing:
		check := IncludeMatch
		if hasBrace(pattern) {
			check = IncludeBraceMatch
		}
		l.errorf(pos, sev(check), "Config files missing '%s'.", pattern)
		return
	case len(files) == 0:
		// keepalived says nothing unless the wildcard check is on.
		l.errorf(pos, sev(IncludeWildcardMatch), "No config files matched '%s'.", pattern)
		return
	case missing:
		l.errorf(pos, sev(IncludeBraceMatch), "Some config files missing: \"%s\".", pattern)
		if flags&IncludeBraceMatch != 0 {
			return
		}
	}
	if from == nil && len(files) > 1 {
		l.errorf(pos, SeverityWarning, "multiple configuration file matches of %s, starting with %s", pattern, l.displayName(files[0]))
	}
	g := &globFile{pattern: pattern, typ: typ, saved: l.check, from: from, files: files}
	l.globs = append(l.globs, g)
	if !l.openNext(g) && !l.stopped {
		l.globs = l.globs[:len(l.globs)-1]
	}
}

// openNext is open_conf_file: it opens the next file of g that is a
// readable regular file without execute bits and not already being read.
func (l *lexer) openNext(g *globFile) bool {
	pos := Pos{File: l.displayName(cleanPath(l.curDir(), g.pattern))}
	if g.from != nil {
		pos = *g.from
	}
	sev := SeverityWarning
	if (l.check|g.typ)&IncludeRead != 0 {
		sev = SeverityFatal
	}
	for g.next < len(g.files) {
		p := g.files[g.next]
		g.next++
		name := l.displayName(p)
		if !l.spend(pos) {
			return false
		}
		st, err := fs.Stat(l.fsys, p)
		switch {
		case err == nil && st.IsDir():
			l.errorf(pos, sev, "Configuration file '%s' is a directory - skipping", name)
			continue
		case err == nil && (!st.Mode().IsRegular() || st.Mode()&0o111 != 0):
			l.errorf(pos, sev, "Configuration file '%s' is not a regular non-executable file - skipping", name)
			continue
		case l.reading(p):
			// keepalived has no check: it recurses until it runs out of
			// file descriptors.
			l.errorf(pos, SeverityError, "include loop: configuration file '%s' is already being read - skipping", name)
			continue
		}
		f, err := l.fsys.Open(p)
		if err != nil {
			l.errorf(pos, sev, "Configuration file '%s' open problem (%v) - skipping", name, err)
			continue
		}
		g.f, g.r = f, newLineReader(f)
		g.ref = &fileRef{name: name, from: g.from}
		g.dir = cleanPath(p, "..")
		g.lineNo = 0
		g.matches++
		return true
	}
	return false
}

// reading says whether the file at fs path p is being read.
func (l *lexer) reading(p string) bool {
	for _, g := range l.globs {
		if g.f != nil && g.files[g.next-1] == p {
			return true
		}
	}
	return false
}

// nextFile ends the file being read (end_file) and moves on to the next
// file of its glob, or back to the including file (end_glob).
func (l *lexer) nextFile() {
	g := l.globs[len(l.globs)-1]
	g.f.Close()
	g.f, g.r = nil, nil
	l.check = g.saved
	if l.openNext(g) || l.stopped {
		return
	}
	l.globs = l.globs[:len(l.globs)-1]
}
