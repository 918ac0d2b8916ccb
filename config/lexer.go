package config

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strings"
)

// maxSubstitutions bounds the $ substitutions made on one line.
// keepalived rescans substituted text without limit, so "$A=$A" makes it
// loop for ever; vigil reports the line instead.
const maxSubstitutions = 1000

// A lexer turns files into logical lines as keepalived's read_line
// (lib/parser.c) does: one physical line at a time through decomment,
// multi-line definitions, @ conditionals, $ definitions, ~SEQ/~LST
// generators, $ substitution, include, and the splitting off of '{' and
// '}' into lines of their own.
type lexer struct {
	fsys   fs.FS
	rooted bool // fsys is "/": names are shown and $_PWD given with a leading '/'
	opts   Options
	rand   *rand.Rand
	getenv func(string) string

	check    IncludeCheck // keepalived's include_check
	globs    []*globFile  // include stack, innermost last
	residue  line         // the rest of a line after a '{' or '}'
	hasRes   bool         // residue is set
	seqs     []*seq       // active generators, innermost last
	seqBase  int          // keepalived's multiline_seq_depth
	ml       *mlCursor    // the rest of a multi-line definition being expanded
	mlStack  []mlSaved
	defs     map[string]*def
	defining *def // a multi-line definition being read

	budget  int // work left (-1: unlimited)
	stopped bool
	errs    []*Error
}

// A globFile is one include directive's glob, read file after file.
type globFile struct {
	pattern string
	typ     IncludeCheck
	saved   IncludeCheck // include_check when the glob was opened
	from    *Pos
	files   []string // fs paths
	next    int
	matches int
	// the file being read
	ref    *fileRef
	dir    string // fs directory of the file
	f      fs.File
	r      *lineReader
	lineNo int
}

type seq struct {
	name             string
	next, step, last int64
	hex              bool
	lstNames         []string
	lstValues        [][]string
	text             line
}

type mlCursor struct {
	rest string
	org  origin
	col  int
}

type mlSaved struct {
	ml      *mlCursor
	seqBase int
}

type def struct {
	name        string
	value       string // lines of a multi-line definition end in '\n'
	multiline   bool
	fn          func(params []string) (string, bool)
	minParams   int
	maxParams   int
	numbersOnly bool
}

// errorf records a problem. A repeat of the last one (a line processed
// again after substitution) is dropped.
func (l *lexer) errorf(pos Pos, sev Severity, format string, args ...any) {
	e := &Error{Pos: pos, Severity: sev, Msg: fmt.Sprintf(format, args...)}
	if n := len(l.errs); n > 0 && *l.errs[n-1] == *e {
		return
	}
	l.errs = append(l.errs, e)
}

// spend takes one unit of work from the budget; false once it is gone.
func (l *lexer) spend(pos Pos) bool {
	if l.stopped {
		return false
	}
	if l.budget < 0 {
		return true
	}
	if l.budget == 0 {
		l.errorf(pos, SeverityError, "configuration too large: more than %d lines, files and substitutions (Options.MaxWork); stopping", l.opts.maxWork())
		l.stop()
		return false
	}
	l.budget--
	return true
}

func (l *lexer) stop() {
	l.stopped = true
	for _, g := range l.globs {
		if g.f != nil {
			g.f.Close()
		}
	}
	l.globs = nil
}

// curDir is the fs directory of the file being read: relative include
// patterns and $_PWD are resolved against it, as keepalived chdir()s into
// each file's directory.
func (l *lexer) curDir() string {
	if len(l.globs) == 0 {
		return "."
	}
	return l.globs[len(l.globs)-1].dir
}

func (l *lexer) displayName(fsPath string) string {
	if l.rooted {
		if fsPath == "." {
			return "/"
		}
		return "/" + fsPath
	}
	return fsPath
}

// next returns the next logical line: a '{', a '}', or a line to split
// into words. It returns false at the end of the input.
func (l *lexer) next() (line, bool) {
	for {
		if l.stopped {
			return line{}, false
		}
		var buf line
		switch {
		case l.hasRes:
			// Residues count too: substitution in each can make another.
			buf, l.residue, l.hasRes = l.residue, line{}, false
			if !l.spend(buf.pos(0)) {
				return line{}, false
			}
			if (buf.s == "{" || buf.s == "}") && l.defining == nil {
				// The brace of "keyword {": process and splitBraces
				// would return it as it is.
				return buf, true
			}
		case len(l.seqs) > l.seqBase:
			buf = l.generate()
			if !l.spend(buf.pos(0)) {
				return line{}, false
			}
		case l.ml != nil:
			buf = l.nextMultiline()
			if !l.spend(buf.pos(0)) {
				return line{}, false
			}
		default:
			var p plainness
			var ok bool
			if buf, p, ok = l.readFileLine(); !ok {
				l.endDefinition()
				return line{}, false
			}
			if p != notPlain && l.defining == nil {
				// Nothing for process to do.
				if l.include(buf) {
					continue
				}
				if p == plainBraces {
					return l.splitBraces(buf), true
				}
				return buf, true
			}
		}

		if l.defining != nil {
			l.continueDefinition(buf.s)
			continue
		}
		if buf.s == "" {
			continue
		}
		var ok bool
		if buf, ok = l.process(buf); !ok || buf.s == "" {
			continue
		}
		if l.include(buf) {
			continue
		}
		return l.splitBraces(buf), true
	}
}

// readFileLine returns the next physical line that is not empty after
// decomment, from the innermost include, moving on through the include
// stack at the end of each file.
func (l *lexer) readFileLine() (ln line, p plainness, ok bool) {
	for len(l.globs) > 0 {
		g := l.globs[len(l.globs)-1]
		raw, tooLong, ok := g.r.next(4 * maxBuf)
		if !ok {
			if g.r.err != nil {
				l.errorf(origin{g.ref, g.lineNo + 1}.pos(1), SeverityError, "reading %s: %v", g.ref.name, g.r.err)
			}
			l.nextFile()
			continue
		}
		g.lineNo++
		org := origin{g.ref, g.lineNo}
		if !l.spend(org.pos(1)) {
			return line{}, notPlain, false
		}
		s := strings.TrimSuffix(raw, "\n")
		switch {
		case tooLong || len(s) > maxBuf-2:
			// keepalived reads the rest of the line as a line of its own.
			l.errorf(org.pos(1), SeverityError, "line too long - ignoring")
			continue
		case strings.IndexByte(s, 0) >= 0:
			l.errorf(org.pos(1), SeverityError, "configuration appears to have embedded NULs - ignoring line")
			continue
		}
		// Without any CR or LF left at its end.
		for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
			s = s[:len(s)-1]
		}
		if s == "" {
			// A blank line ends a multi-line definition.
			l.endDefinition()
			continue
		}
		t := newText(s).trimLeft()
		if !hasCommentSyntax(t.s) {
			// decomment's fast way, telling whether the line is plain.
			if t = t.trimRight(); t.s != "" {
				return line{t, org}, plainOf(t.s), true
			}
			continue
		}
		t, unterminated := decomment(t)
		if unterminated {
			l.errorf(org.pos(1), SeverityError, "Unterminated quote '%s'", t.s)
		}
		if t.s != "" {
			return line{t, org}, notPlain, true
		}
	}
	return line{}, notPlain, false
}

// decomment removes comments, the backslash of \# and \!, and leading
// and trailing blanks (also those before a final '\'), as keepalived's
// decomment does. It also says whether a '"' was left open.
func decomment(t text) (text, bool) {
	t = t.trimLeft()
	if !hasCommentSyntax(t.s) {
		// Nothing to strip or unescape: the same bytes, same columns.
		return t.trimRight(), false
	}
	quote, cont := false, false
	var b strings.Builder
	tc := t.columns()
	cols := make([]int, 0, len(t.s))
	put := func(i int) {
		b.WriteByte(t.s[i])
		cols = append(cols, tc[i])
	}
	contCol := 0
loop:
	for i := 0; i < len(t.s); {
		switch c := t.s[i]; {
		case c == '"':
			quote = !quote
			put(i)
			i++
		case c == '\\':
			if i+1 == len(t.s) {
				cont, contCol = true, tc[i]
				break loop
			}
			if !quote && (t.s[i+1] == '#' || t.s[i+1] == '!') {
				put(i + 1)
			} else {
				put(i)
				put(i + 1)
			}
			i += 2
		case !quote && (c == '#' || c == '!'):
			break loop
		default:
			put(i)
			i++
		}
	}
	out := text{s: b.String(), cols: cols}.trimRight()
	if cont {
		out = text{s: out.s + "\\", cols: append(out.columns(), contCol)}
	}
	return out, quote
}

// hasCommentSyntax reports whether s holds a byte decomment acts on:
// '"', '\\', '#' or '!'.
func hasCommentSyntax(s string) bool {
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&classComment != 0 {
			return true
		}
	}
	return false
}

// Byte classes of byteClass: classComment, a byte decomment acts on;
// classBrace, '{' and '}'; classSpecial, another byte that makes a line
// more than words between blanks ('$', and white space other than ' '
// and '\t').
const (
	classComment = 1 << iota
	classBrace
	classSpecial
)

var byteClass = func() (t [256]uint8) {
	for _, c := range "\"\\#!" {
		t[c] = classComment
	}
	t['{'], t['}'] = classBrace, classBrace
	for _, c := range "$\n\v\f\r" {
		t[c] = classSpecial
	}
	return t
}()

// A plainness says what the lexer must still do with a line without
// comment syntax.
type plainness uint8

const (
	notPlain    plainness = iota // process and splitBraces
	plain                        // neither: words between blanks
	plainBraces                  // splitBraces only
)

// plainOf tells what s, a line without comment syntax, needs: process
// returns a line as it is unless it starts with '@' or '~' or holds a
// '$'; splitBraces, unless it holds a brace.
func plainOf(s string) plainness {
	if s == "" || s[0] == '@' || s[0] == '~' {
		return notPlain
	}
	var c uint8
	for i := 0; i < len(s); i++ {
		c |= byteClass[s[i]]
	}
	switch c {
	case 0:
		return plain
	case classBrace:
		return plainBraces
	}
	return notPlain
}

// process applies, in keepalived's order, the @ conditional, a $NAME=
// definition, a ~SEQ/~LST generator and $ substitution to a line. It
// returns the line to use, or false (or an empty line) when the line is
// consumed.
func (l *lexer) process(buf line) (line, bool) {
	steps := 0
	for {
		if buf.s[0] == '@' {
			var ok bool
			if buf, ok = l.conditional(buf); !ok {
				return line{}, false
			}
		}
		if buf.s[0] == '$' && l.checkDefinition(buf) {
			return line{}, false
		}
		if strings.HasPrefix(buf.s, "~SEQ") || strings.HasPrefix(buf.s, "~LST") {
			if buf.s[1] == 'S' {
				if !l.addSeq(buf) {
					l.errorf(buf.pos(0), SeverityError, "Invalid ~SEQ specification '%s'", buf.s)
				}
			} else if !l.addLst(buf) {
				l.errorf(buf.pos(0), SeverityError, "Invalid ~LST specification '%s'", buf.s)
			}
			return line{}, false
		}
		if buf.s[0] == '~' || !strings.Contains(buf.s, "$") {
			return buf, true
		}
		out, changed, ok := l.substitute(buf, maxBuf, false, &steps)
		if !ok {
			return line{}, false
		}
		if !changed {
			return out, true
		}
		t, unterminated := decomment(out.text)
		if unterminated {
			l.errorf(out.pos(0), SeverityError, "Unterminated quote '%s'", t.s)
		}
		buf = line{t, out.org}
		if buf.s == "" {
			return buf, true
		}
		// keepalived before 67333835 (and its man page) processes the
		// line again when substitution produced a leading '@' or left a
		// '$'; at that commit a "continue" inside "do { } while (false)"
		// skips this, which breaks "$IF_MAIN=@main". vigil does what the
		// man page says.
		if buf.s[0] != '@' && !strings.Contains(buf.s, "$") {
			return buf, true
		}
	}
}

// conditional handles a line starting "@id " or "@^id ".
func (l *lexer) conditional(buf line) (line, bool) {
	rev, ofs := false, 1
	if at(buf.s, 1) == '^' {
		rev, ofs = true, 2
	}
	end := strings.IndexAny(buf.s[ofs:], " \t")
	if end < 0 {
		return line{}, false
	}
	id := buf.s[ofs : ofs+end]
	match := l.opts.ConfigID != "" && id == l.opts.ConfigID
	if match == rev {
		return line{}, false
	}
	t := buf.from(ofs + end).trimLeft()
	if t.s == "" {
		return line{}, false
	}
	return line{t, buf.org}, true
}

// splitBraces splits the first '{' or '}' outside "..." off the line:
// the part before it is returned and the rest kept for the next call, so
// each brace ends up on a line of its own.
func (l *lexer) splitBraces(buf line) line {
	s := buf.s
	p := -1
	if s[0] == '{' || s[0] == '}' {
		p = 0
	} else {
		for i := 0; i < len(s); i++ {
			if s[i] == '{' || s[i] == '}' {
				p = i
				break
			}
			if s[i] == '"' {
				j := strings.IndexByte(s[i+1:], '"')
				if j < 0 {
					break
				}
				i += j + 1
			}
		}
	}
	if p >= 0 {
		skip := 0
		if p == 0 {
			skip = span(s, 1, " \t")
		}
		if p+skip < len(s) {
			l.residue, l.hasRes = line{buf.from(p + skip).trimRight(), buf.org}, true
			buf = line{buf.slice(0, p+skip), buf.org}
		}
	}
	return line{buf.trimRight(), buf.org}
}

// newLexer prepares a lexer; open adds the main file.
func newLexer(fsys fs.FS, rooted bool, opts Options) *lexer {
	l := &lexer{fsys: fsys, rooted: rooted, opts: opts, check: opts.IncludeCheck, budget: opts.maxWork()}
	l.rand = opts.Rand
	if l.rand == nil {
		l.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	l.getenv = opts.Getenv
	if l.getenv == nil {
		l.getenv = os.Getenv
	}
	l.setStdDefinitions()
	return l
}

// cleanPath resolves name against dir in a rooted, slash-separated
// namespace and returns an fs path ("." for the root).
func cleanPath(dir, name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + dir + "/" + name
	}
	p := path.Clean(name)[1:]
	if p == "" {
		return "."
	}
	return p
}
