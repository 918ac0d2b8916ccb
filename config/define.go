package config

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

func (l *lexer) setStdDefinitions() {
	l.defs = map[string]*def{}
	add := func(name, value string, fn func([]string) (string, bool), minP, maxP int, numbers bool) {
		l.defs[name] = &def{name: name, value: value, fn: fn, minParams: minP, maxParams: maxP, numbersOnly: numbers}
	}
	add("_PWD", "", func([]string) (string, bool) { return l.displayName(l.curDir()), true }, 0, 0, false)
	add("_INSTANCE", "", func([]string) (string, bool) { return l.opts.ConfigID, l.opts.ConfigID != "" }, 0, 0, false)
	add("_RANDOM", "", l.random, 0, 2, true)
	add("_ENV", "", func(p []string) (string, bool) { return l.getenv(p[0]), true }, 1, 1, false)
	add("_HASH", "#", nil, 0, 0, false)
	add("_BANG", "!", nil, 0, 0, false)
}

// random is ${_RANDOM [MIN [MAX]]} (get_random): an integer in
// [MIN, MAX], by default [0, 32767].
func (l *lexer) random(p []string) (string, bool) {
	lo, hi := uint64(0), uint64(32767)
	if len(p) > 0 {
		lo = strtoul(p[0])
	}
	if len(p) > 1 {
		hi = strtoul(p[1])
	}
	if lo > hi {
		hi = lo
	}
	v := lo
	if span := hi - lo + 1; span == 0 {
		v = l.rand.Uint64()
	} else {
		v += l.rand.Uint64N(span)
	}
	return strconv.FormatUint(v, 10), true
}

// randomSeed applies global_defs' random_seed UINT: the ${_RANDOM}
// read after it draw from a source seeded with UINT, so the
// configuration is the same every time. A bad seed is left to the
// loader to report.
func (l *lexer) randomSeed(s Statement) {
	if len(s.Words) != 2 {
		return
	}
	n, err := strconv.ParseUint(s.Words[1], 10, 32)
	if err != nil {
		return
	}
	l.rand = rand.New(rand.NewPCG(n, 0))
}

func strtoul(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return math.MaxUint64
	}
	return v
}

// continueDefinition adds a line to the multi-line definition being read
// (read_line's "Handle multi-line definitions").
func (l *lexer) continueDefinition(s string) {
	d := l.defining
	more := false
	if strings.HasSuffix(s, "\\") {
		s = strings.TrimRight(s[:len(s)-1], " \t") + "\n"
		more = true
	} else {
		l.endDefinition()
	}
	if len(s) >= 2 || s != "" && !more {
		d.value += s
	}
}

func (l *lexer) endDefinition() {
	if d := l.defining; d != nil {
		if d.value == "" {
			d.multiline = false
		}
		l.defining = nil
	}
}

// checkDefinition handles "$NAME=VALUE" (check_definition); it reports
// whether the line was a definition.
func (l *lexer) checkDefinition(buf line) bool {
	s := buf.s
	if len(s) < 2 || !isAlpha(s[1]) && s[1] != '_' {
		return false
	}
	p := 2
	for ; p < len(s) && s[p] != '='; p++ {
		if !isNameByte(s[p]) {
			return false
		}
	}
	if p == len(s) {
		return false
	}
	name := s[1:p]
	d := l.defs[name]
	if d == nil {
		d = &def{name: name}
		l.defs[name] = d
	}
	d.fn = nil // a user definition overrides a predefined one
	v := s[span(s, p+1, " \t"):]
	d.multiline = strings.HasSuffix(v, "\\")
	if d.multiline {
		v = strings.TrimRight(v[:len(v)-1], " \t")
		if v != "" {
			v += "\n"
		}
		l.defining = d
	}
	d.value = v
	return true
}

// lookup is find_definition for a reference: s is the text after a '$'
// (a multi-line definition is found only if the reference ends s). It
// returns the definition, its parameters and the number of bytes, '$'
// included, to replace.
func (l *lexer) lookup(s string, pos Pos) (d *def, params []string, n int) {
	braces := at(s, 0) == '{'
	name := s
	if braces {
		name = s[1:]
	}
	if !isAlpha(at(name, 0)) && at(name, 0) != '_' {
		return nil, nil, 0
	}
	ln := 1
	for ln < len(name) && isNameByte(name[ln]) {
		ln++
	}
	p := ln
	paramEnd := -1
	numbers := true
	if braces {
		for p < len(name) && (isBlank(name[p]) || isNameByte(name[p])) {
			if !isBlank(name[p]) {
				if paramEnd < 0 || isBlank(name[p-1]) {
					params = append(params, "")
				}
				params[len(params)-1] += name[p : p+1]
				if !isDigit(name[p]) {
					numbers = false
				}
				paramEnd = p
			}
			p++
		}
		if paramEnd >= 0 && paramEnd+1 != p {
			return nil, nil, 0
		}
		if at(name, p) != '}' {
			return nil, nil, 0
		}
	} else if c := at(name, p); c != ' ' && c != '\t' && c != ',' && c != ')' && c != 0 {
		return nil, nil, 0
	}
	allowMultiline := !braces && ln == len(name) || braces && ln+1 == len(name)
	d = l.defs[name[:ln]]
	if d == nil || d.multiline && !allowMultiline {
		return nil, nil, 0
	}
	n = ln + 1
	if braces {
		n += 2
	}
	if params != nil {
		if d.maxParams == 0 {
			return nil, nil, 0
		}
		if d.numbersOnly && !numbers {
			l.errorf(pos, SeverityError, "Definition %s requires numeric parameters only.", d.name)
			return nil, nil, 0
		}
		if len(params) > d.maxParams || len(params) < d.minParams {
			l.errorf(pos, SeverityError, "Definition %s requires between %d and %d parameters, %d specified.", d.name, d.minParams, d.maxParams, len(params))
			return nil, nil, 0
		}
		// keepalived replaces from the '$' to the last parameter, and
		// the closing brace.
		n = paramEnd + 2 + 2
	} else if d.minParams > 0 {
		params = make([]string, d.minParams)
	}
	return d, params, n
}

// substitute is replace_param: it replaces each $NAME and ${NAME} with
// its value, rescanning the replacement (substitution is recursive). In
// seq mode (the parameters of a ~SEQ) a multi-line definition is an
// error. It returns the line, whether anything was replaced, and false
// when the line must be dropped.
func (l *lexer) substitute(buf line, maxLen int, seqMode bool, steps *int) (line, bool, bool) {
	found := false
	ml := l.ml
	cur := 0
	for {
		i := strings.IndexByte(buf.s[cur:], '$')
		if i < 0 || cur+i+1 >= len(buf.s) {
			break
		}
		cur += i
		d, params, n := l.lookup(buf.s[cur+1:], buf.pos(cur))
		if d == nil {
			cur++
			continue
		}
		if !l.spend(buf.pos(cur)) {
			return line{}, false, false
		}
		if *steps++; *steps > maxSubstitutions {
			l.errorf(buf.pos(cur), SeverityError, "parameter substitution does not end (more than %d substitutions) - ignoring line", maxSubstitutions)
			return line{}, false, false
		}
		value := d.value
		if d.fn != nil {
			v, ok := d.fn(params)
			if !ok {
				v = ""
			}
			value = v
		}
		repl := value
		var rest *mlCursor
		if d.multiline {
			if seqMode {
				l.errorf(buf.pos(cur), SeverityError, "~SEQ parameter is multiline definition '%s'", buf.s)
				return line{}, false, false
			}
			first, after, _ := strings.Cut(value, "\n")
			repl = first
			rest = &mlCursor{rest: after, org: buf.org, col: buf.col(cur)}
		}
		if len(buf.s)+len(repl)-n >= maxLen {
			l.errorf(buf.pos(cur), SeverityError, "Parameter substitution on line '%s' would exceed maximum line length", buf.s)
			break
		}
		found = true
		if d.multiline {
			if ml != nil {
				l.mlStack = append(l.mlStack, mlSaved{ml, l.seqBase})
			}
			l.seqBase = len(l.seqs)
			ml = rest
		}
		buf = line{buf.replace(cur, cur+n, repl, buf.col(cur)), buf.org}
		if repl != "" && at(value, span(value, 0, " \t")) == '~' {
			break
		}
	}
	if found {
		l.ml = ml
	}
	return buf, found, true
}

// nextMultiline returns the next line of the multi-line definition being
// expanded.
func (l *lexer) nextMultiline() line {
	m := l.ml
	t := text{}
	first, after, more := strings.Cut(m.rest, "\n")
	t.s = first
	t.cols = make([]int, len(first))
	for i := range t.cols {
		t.cols[i] = m.col
	}
	if more {
		l.ml = &mlCursor{rest: after, org: m.org, col: m.col}
	} else if n := len(l.mlStack); n > 0 {
		l.ml, l.seqBase = l.mlStack[n-1].ml, l.mlStack[n-1].seqBase
		l.mlStack = l.mlStack[:n-1]
	} else {
		l.ml, l.seqBase = nil, 0
	}
	return line{t, m.org}
}

func (l *lexer) setDefinition(name, value string) {
	d := l.defs[name]
	if d == nil {
		d = &def{name: name}
		l.defs[name] = d
	}
	d.fn, d.value, d.multiline = nil, value, false
}
