package config

import (
	"math"
	"strconv"
	"strings"
)

// generate returns the next line of the innermost generator.
func (l *lexer) generate() line {
	s := l.seqs[len(l.seqs)-1]
	done := false
	if s.lstNames == nil {
		v := strconv.FormatInt(s.next, 10)
		if s.hex {
			v = strconv.FormatUint(uint64(s.next), 16)
		}
		l.setDefinition(s.name, v)
		switch {
		case s.step > 0 && s.next > math.MaxInt64-s.step,
			s.step < 0 && s.next < math.MinInt64-s.step:
			done = true
		default:
			s.next += s.step
			done = s.step > 0 && s.next > s.last || s.step < 0 && s.next < s.last
		}
	} else {
		for i, name := range s.lstNames {
			l.setDefinition(name, s.lstValues[0][i])
		}
		s.lstValues = s.lstValues[1:]
		done = len(s.lstValues) == 0
	}
	if done {
		l.seqs = l.seqs[:len(l.seqs)-1]
	}
	return s.text
}

// strtol is C's strtol with base 0 from s[i:]: it returns the value and
// the index after the number (i if there is none).
func strtol(s string, i int) (int64, int) {
	p := span(s, i, " \t\n\v\f\r")
	neg := false
	if c := at(s, p); c == '+' || c == '-' {
		neg = c == '-'
		p++
	}
	base := uint64(10)
	if at(s, p) == '0' {
		base = 8
		if c := at(s, p+1); (c == 'x' || c == 'X') && hexVal(at(s, p+2)) >= 0 {
			base = 16
			p += 2
		}
	}
	start := p
	var v uint64
	overflow := false
	for ; p < len(s); p++ {
		d := hexVal(s[p])
		if d < 0 || uint64(d) >= base {
			break
		}
		if v > (math.MaxUint64-uint64(d))/base {
			overflow = true
		}
		v = v*base + uint64(d)
	}
	if p == start {
		return 0, i
	}
	switch {
	case neg && (overflow || v > 1<<63):
		return math.MinInt64, p
	case neg:
		return -int64(v), p
	case overflow || v > math.MaxInt64:
		return math.MaxInt64, p
	}
	return int64(v), p
}

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// addSeq is add_seq: "~SEQ(VAR, [START, [STEP,]] END) TEXT" and ~SEQx.
func (l *lexer) addSeq(buf line) bool {
	s := buf.s
	pos := buf.pos(0)
	p := 4
	hex := at(s, p) == 'x'
	if hex {
		p++
	}
	p = span(s, p, " \t")
	if at(s, p) != '(' {
		return false
	}
	p = span(s, p+1, " \t")
	varStart := p
	p = cspan(s, p, " \t,)")
	name := s[varStart:p]
	p = span(s, p, " \t")
	if c := at(s, p); c == 0 || c == ')' || p == varStart || name != "" && name[0] == '{' {
		l.errorf(pos, SeverityError, "Invalid ~SEQ definition '%s'", s)
		return false
	}
	p = span(s, p+1, " \t") // keepalived skips one byte, whatever it is
	end := strings.IndexByte(s[p:], ')')
	if end < 0 {
		l.errorf(pos, SeverityError, "~SEQ missing terminating ')' '%s'", s)
		return false
	}
	end += p
	const seqBuf = 3*20 + 3 + 1
	if end+1-p+1 > seqBuf {
		l.errorf(pos, SeverityError, "~SEQ parameter strings too long '%s'", s)
		return false
	}
	steps := 0
	args, _, ok := l.substitute(line{buf.slice(p, end+1), buf.org}, seqBuf, true, &steps)
	if !ok {
		return false
	}
	a := args.s
	var start, step, last int64
	one, q := strtol(a, 0)
	q = span(a, q, " \t")
	switch {
	case at(a, q) == ')':
		last = one
		step = 1
		if last < 1 {
			step = -1
		}
		start = 1
		if last < 0 {
			start = -1
		}
	case at(a, q) != ',':
		l.errorf(pos, SeverityError, "Invalid ~SEQ definition '%s'", s)
		return false
	default:
		two, q2 := strtol(a, q+1)
		q2 = span(a, q2, " \t")
		switch at(a, q2) {
		case ')':
			start, last = one, two
			step = 1
			if start > last {
				step = -1
			}
		case ',':
			three, q3 := strtol(a, q2+1)
			if at(a, span(a, q3, " \t")) != ')' {
				l.errorf(pos, SeverityError, "Invalid ~SEQ definition '%s'", s)
				return false
			}
			start, step, last = one, two, three
			if step == 0 || start < last && step < 0 || start > last && step > 0 {
				l.errorf(pos, SeverityError, "Invalid ~SEQ values '%s'", s)
				return false
			}
		default:
			l.errorf(pos, SeverityError, "Invalid ~SEQ definition '%s'", s)
			return false
		}
	}
	if hex && (start < 0 || last < 0) {
		l.errorf(pos, SeverityError, "~SEQx is only valid for positive numbers '%s'", s)
		return false
	}
	t := buf.from(span(s, end+1, " \t"))
	l.seqs = append(l.seqs, &seq{name: name, next: start, step: step, last: last, hex: hex, text: line{t, buf.org}})
	return true
}

// addLst is add_lst: "~LST(VAR, V1, V2, ...) TEXT" and
// "~LST({V, W}, {1, 2}, {3, 4}) TEXT".
func (l *lexer) addLst(buf line) bool {
	s := buf.s
	p := span(s, 4, " \t")
	if at(s, p) != '(' {
		return false
	}
	p = span(s, p+1, " \t")
	endChar := byte(',')
	if at(s, p) == '{' {
		endChar = '}'
		p = span(s, p+1, " \t")
	}
	var names []string
	for {
		start := p
		p = cspan(s, p, " \t,}")
		names = append(names, s[start:p])
		p = span(s, p, " \t")
		if at(s, p) == endChar {
			break
		}
		if at(s, p) != ',' {
			return false
		}
		p = span(s, p+1, " \t")
	}
	if at(s, p) == '}' {
		p = span(s, p+1, " \t")
	}
	if at(s, p) != ',' {
		return false
	}
	p = span(s, p+1, " \t")
	var sets [][]string
	for {
		endChar = ','
		if at(s, p) == '{' {
			endChar = '}'
			p = span(s, p+1, " \t")
		}
		var values []string
		for {
			start := p
			p = cspan(s, p, " \t,})")
			values = append(values, s[start:p])
			p = span(s, p, " \t")
			if c := at(s, p); c == endChar || c == ')' && endChar == ',' {
				break
			}
			if at(s, p) != ',' {
				return false
			}
			p = span(s, p+1, " \t")
			if len(values) > len(names)-1 {
				l.errorf(buf.pos(0), SeverityError, "~LST specification has too many values '%s'", s)
				return false
			}
		}
		for len(values) < len(names) {
			values = append(values, "") // missing values are blank
		}
		sets = append(sets, values[:len(names)])
		if at(s, p) == '}' && endChar == '}' {
			p = span(s, p+1, " \t")
		}
		if at(s, p) == ')' {
			break
		}
		if at(s, p) != ',' {
			return false
		}
		p = span(s, p+1, " \t")
	}
	t := buf.from(span(s, p+1, " \t"))
	l.seqs = append(l.seqs, &seq{lstNames: names, lstValues: sets, text: line{t, buf.org}})
	return true
}
