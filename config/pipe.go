package config

import (
	"fmt"
	"slices"
	"strings"
)

// A linePipe runs the lexer on a goroutine of its own, a batch of
// logical lines ahead of the builder, so that reading a big file uses
// two cores: one splits and decomments lines, follows includes and
// substitutes, the other builds the tree (and a third maps it, see
// LoadFile).
//
// The result is the serial one. The builder feeds back into the lexer
// only through include_check and random_seed in global_defs: a line that
// may be one of them ends its batch, and the lexer waits until the
// builder has handled it. Problems are reported in the serial order:
// each is keyed by the line being produced (lexer) or handled (builder)
// when it was found, and the two lists are merged by key.
type linePipe struct {
	lx      *lexer
	batches chan *lineBatch
	free    chan *lineBatch
	ack     chan struct{}
	done    chan struct{}

	// The lexer goroutine's: lexKeys[i] is the key of lx.errs[i].
	lexKeys []int

	// The builder's.
	cur   *lineBatch
	i     int
	taken int // lines handed to the builder
	ended bool
	errs  []*Error
	keys  []int
}

// A lineBatch is a run of logical lines; sync says the lexer waits for
// the builder to have handled the last one; end that the input ends
// after them.
type lineBatch struct {
	lines     []line
	sync, end bool
}

const (
	batchLines   = 128
	batchesAhead = 8
)

// startPipe starts lx's goroutine. The builder must read lines with next
// until it returns false, then call wait.
func startPipe(lx *lexer) *linePipe {
	p := &linePipe{
		lx:      lx,
		batches: make(chan *lineBatch, batchesAhead),
		free:    make(chan *lineBatch, batchesAhead+2),
		ack:     make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.run()
	return p
}

// run is the lexer goroutine.
func (p *linePipe) run() {
	defer close(p.done)
	produced := 0
	b := p.batch()
	for {
		n := len(p.lx.errs)
		ln, ok := p.lx.next()
		for range len(p.lx.errs) - n {
			p.lexKeys = append(p.lexKeys, 2*produced)
		}
		if !ok {
			b.end = true
			p.batches <- b
			return
		}
		produced++
		b.lines = append(b.lines, ln)
		sync := strings.HasPrefix(ln.s, "include_check") || strings.HasPrefix(ln.s, "random_seed")
		if sync || len(b.lines) == batchLines {
			b.sync = sync
			p.batches <- b
			if sync {
				<-p.ack
			}
			b = p.batch()
		}
	}
}

// batch returns an empty batch, one the builder is done with if there is
// one.
func (p *linePipe) batch() *lineBatch {
	select {
	case b := <-p.free:
		b.lines, b.sync, b.end = b.lines[:0], false, false
		return b
	default:
		return &lineBatch{lines: make([]line, 0, batchLines)}
	}
}

// next returns the next logical line, as lexer.next does; false at the
// end of the input, and from then on.
func (p *linePipe) next() (line, bool) {
	for p.cur == nil || p.i == len(p.cur.lines) {
		if p.cur != nil {
			if p.cur.end {
				p.ended = true
				return line{}, false
			}
			if p.cur.sync {
				p.ack <- struct{}{}
			}
			clear(p.cur.lines) // no strings kept alive from the free list
			select {
			case p.free <- p.cur:
			default:
			}
		}
		p.cur, p.i = <-p.batches, 0
	}
	ln := p.cur.lines[p.i]
	p.i++
	p.taken++
	return ln, true
}

// errorf records a problem the builder found, as lexer.errorf does.
func (p *linePipe) errorf(pos Pos, sev Severity, format string, args ...any) {
	e := &Error{Pos: pos, Severity: sev, Msg: fmt.Sprintf(format, args...)}
	if n := len(p.errs); n > 0 && *p.errs[n-1] == *e {
		return
	}
	key := 2*p.taken - 1 // while handling line taken-1
	if p.ended {
		key = 2*p.taken + 1 // after the lexer reported the end
	}
	p.errs, p.keys = append(p.errs, e), append(p.keys, key)
}

// wait waits for the lexer goroutine to end (next has returned false)
// and puts the builder's problems among the lexer's, in lx.errs.
func (p *linePipe) wait() {
	<-p.done
	if len(p.errs) == 0 {
		return
	}
	type keyed struct {
		key int
		e   *Error
	}
	all := make([]keyed, 0, len(p.lx.errs)+len(p.errs))
	for i, e := range p.lx.errs {
		all = append(all, keyed{p.lexKeys[i], e})
	}
	for i, e := range p.errs {
		all = append(all, keyed{p.keys[i], e})
	}
	slices.SortStableFunc(all, func(a, b keyed) int { return a.key - b.key })
	p.lx.errs = p.lx.errs[:0]
	for _, k := range all {
		p.lx.errs = append(p.lx.errs, k.e)
	}
}
