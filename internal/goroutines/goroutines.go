// Package goroutines counts goroutines by where they belong, for tests
// that assert how many goroutines something runs.
//
// runtime.NumGoroutine counts the whole process: a goroutine an earlier
// test left to end on its own (a timer's callback, a reader closing) may
// end at any moment between two counts and make a count off by one now
// and then. The counts here read runtime.Stack of every goroutine and
// keep only those of the caller's synctest bubble, or those a given
// goroutine started, directly or through others.
package goroutines

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// G is one goroutine of a snapshot.
type G struct {
	ID int
	// Parent is the goroutine that started it (0: none named, as for
	// the main goroutine).
	Parent int
	// Bubble is the synctest bubble it belongs to (0: none).
	Bubble int
	// Stack is its trace, header line included.
	Stack string
}

// Snapshot returns every goroutine of the process, the caller's first.
func Snapshot() []G {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			gs, err := Parse(buf[:n])
			if err != nil {
				panic(err) // the runtime's format changed: the tests must say so
			}
			return gs
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Parse reads the output of runtime.Stack(buf, true).
func Parse(b []byte) ([]G, error) {
	var gs []G
	for block := range bytes.SplitSeq(bytes.TrimSpace(b), []byte("\n\n")) {
		g, err := parseOne(string(block))
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, nil
}

// parseOne reads one goroutine's block: a header "goroutine 7 [chan
// receive, synctest bubble 3]:", its frames, and perhaps "created by
// f in goroutine 6" and its position.
func parseOne(s string) (G, error) {
	g := G{Stack: s}
	header, _, _ := strings.Cut(s, "\n")
	rest, ok := strings.CutPrefix(header, "goroutine ")
	if !ok {
		return g, fmt.Errorf("goroutines: not a goroutine's header: %q", header)
	}
	id, state, ok := strings.Cut(rest, " [")
	if !ok {
		return g, fmt.Errorf("goroutines: not a goroutine's header: %q", header)
	}
	var err error
	if g.ID, err = strconv.Atoi(id); err != nil {
		return g, fmt.Errorf("goroutines: header %q: %w", header, err)
	}
	if _, bubble, ok := strings.Cut(state, "synctest bubble "); ok {
		bubble, _, _ = strings.Cut(bubble, "]")
		bubble, _, _ = strings.Cut(bubble, ",")
		if g.Bubble, err = strconv.Atoi(bubble); err != nil {
			return g, fmt.Errorf("goroutines: header %q: %w", header, err)
		}
	}
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, "created by ") {
			continue
		}
		_, parent, ok := strings.Cut(strings.TrimSpace(line), " in goroutine ")
		if !ok {
			break
		}
		if g.Parent, err = strconv.Atoi(parent); err != nil {
			return g, fmt.Errorf("goroutines: %q: %w", line, err)
		}
		break
	}
	return g, nil
}

// InBubble counts the goroutines of the caller's synctest bubble, the
// caller and synctest's own included: compare two counts. It panics if
// the caller is in no bubble.
func InBubble() int {
	gs := Snapshot()
	if gs[0].Bubble == 0 {
		panic("goroutines: InBubble called outside a synctest bubble")
	}
	n := 0
	for _, g := range gs {
		if g.Bubble == gs[0].Bubble {
			n++
		}
	}
	return n
}

// Under counts the goroutines whose stack contains marker and those they
// started, directly or through goroutines started in turn, each once
// (a goroutine whose starter has ended is not counted unless its own
// stack has the marker).
func Under(marker string) int {
	return under(Snapshot(), marker)
}

func under(gs []G, marker string) int {
	in := make(map[int]bool, len(gs))
	parent := make(map[int]int, len(gs))
	for _, g := range gs {
		parent[g.ID] = g.Parent
		if strings.Contains(g.Stack, marker) {
			in[g.ID] = true
		}
	}
	n := 0
	for _, g := range gs {
		// Walk up: a chain is at most as long as the snapshot.
		for id, steps := g.ID, 0; id != 0 && steps <= len(gs); id, steps = parent[id], steps+1 {
			if in[id] {
				n++
				break
			}
		}
	}
	return n
}
