package config

import (
	"io"
	"strings"
)

// lineChunk is how much of a file a lineReader reads at a time.
const lineChunk = 64 << 10

// A lineReader reads a file's physical lines as substrings of the chunks
// it reads, so that a line costs no allocation of its own (a Statement's
// Line and Words are substrings of it).
type lineReader struct {
	r       io.Reader
	buf     string // read and not yet returned
	eof     bool
	err     error  // the read error that ended the file, if not EOF
	scratch []byte // io.CopyBuffer's buffer, reused
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: r} }

// next returns the next line with its '\n' (the last line of a file may
// have none). A line longer than limit bytes is skipped to its end and
// reported tooLong, with an empty line. ok is false at the end of the
// file or on a read error (in lr.err).
func (lr *lineReader) next(limit int) (line string, tooLong, ok bool) {
	skipping := false
	for {
		if i := strings.IndexByte(lr.buf, '\n'); i >= 0 {
			line, lr.buf = lr.buf[:i+1], lr.buf[i+1:]
			if skipping || len(line) > limit {
				return "", true, true
			}
			return line, false, true
		}
		if len(lr.buf) > limit {
			// No end within limit: drop what is read and skip to the '\n'.
			skipping, lr.buf = true, ""
		}
		if lr.eof {
			line, lr.buf = lr.buf, ""
			switch {
			case skipping:
				return "", true, true
			case line == "":
				return "", false, false
			}
			return line, false, true
		}
		// The rest of the last chunk and the next one, in one string.
		if lr.scratch == nil {
			lr.scratch = make([]byte, 32<<10)
		}
		var b strings.Builder
		b.Grow(len(lr.buf) + lineChunk)
		b.WriteString(lr.buf)
		n, err := io.CopyBuffer(&b, io.LimitReader(lr.r, lineChunk), lr.scratch)
		lr.buf = b.String()
		switch {
		case err != nil:
			lr.eof, lr.err = true, err
		case n < lineChunk:
			lr.eof = true
		}
	}
}
