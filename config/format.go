package config

import (
	"bufio"
	"io"
	"strings"
)

// Quote returns w as a word keepalived's tokenizer reads back as w:
// unchanged if it can be, else between double quotes. (A word holding a
// '"' cannot be written so that keepalived reads it back.)
func Quote(w string) string {
	if w != "" && !strings.ContainsAny(w, whiteSpace+"\"{}#!\\") {
		return w
	}
	return `"` + w + `"`
}

// Format writes statements in a canonical keepalived syntax: one
// statement a line, its words quoted where needed, a block's '{' at the
// end of its statement's line, four spaces of indent a level, '}' alone.
// Reading the output gives the same statements (at other positions),
// unless a word holds a '"'.
func Format(w io.Writer, stmts []Statement) error {
	bw := bufio.NewWriter(w)
	format(bw, stmts, 0)
	return bw.Flush()
}

func format(w *bufio.Writer, stmts []Statement, depth int) {
	for i := range stmts {
		s := &stmts[i]
		indent := strings.Repeat("    ", depth)
		w.WriteString(indent)
		for j, word := range s.Words {
			if j > 0 {
				w.WriteByte(' ')
			}
			w.WriteString(Quote(word))
		}
		if s.HasBlock {
			w.WriteString(" {\n")
			format(w, s.Block, depth+1)
			w.WriteString(indent + "}")
		}
		w.WriteByte('\n')
	}
}
