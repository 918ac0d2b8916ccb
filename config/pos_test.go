package config

import (
	"reflect"
	"testing"
	"testing/fstest"
)

// Positions survive comment stripping, conditionals and substitution:
// a substituted word takes the column of its '$'.
func TestPositions(t *testing.T) {
	src := "$P=150\n\t@main priority  $P # c\n  a { \"b c\" ${P}x }\n~SEQ(N,1,2)  s $N\n"
	tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(src)}}, "k.conf", Options{ConfigID: "main"})
	if err != nil {
		t.Fatal(err)
	}
	s := tr.Statements
	check := func(st Statement, line int, cols []int) {
		t.Helper()
		if st.Pos.File != "k.conf" || st.Pos.Line != line || !reflect.DeepEqual(st.Cols, cols) || st.Pos.Col != cols[0] {
			t.Errorf("%v: at %v cols %v, want line %d cols %v", st.Words, st.Pos, st.Cols, line, cols)
		}
	}
	check(s[0], 2, []int{8, 18})
	check(s[1], 3, []int{3})
	if s[1].Open != (Pos{File: "k.conf", Line: 3, Col: 5}) || s[1].Close != (Pos{File: "k.conf", Line: 3, Col: 19}) {
		t.Errorf("braces at %v %v", s[1].Open, s[1].Close)
	}
	check(s[1].Block[0], 3, []int{7, 13})
	check(s[2], 4, []int{14, 16})
	check(s[3], 4, []int{14, 16})
	if got := s[1].WordPos(0).String(); got != "k.conf:3:3" {
		t.Errorf("WordPos = %s", got)
	}
}

// alloc_strvec_quoted_escaped_common.
func TestSplitQuoted(t *testing.T) {
	for _, c := range []struct {
		in      string
		escapes bool
		want    []string
		err     bool
	}{
		{in: `/x.sh ' a b ' VI_1`, escapes: true, want: []string{"/x.sh", " a b ", "VI_1"}},
		{in: `a"b c"d 'e"f'`, escapes: true, want: []string{"ab cd", `e"f`}},
		{in: `\x41\101\cA\n\"q\\ \t`, escapes: true, want: []string{"AA\x01\n\"q\\", "\t"}},
		{in: `a\ b "\x41"`, escapes: false, want: []string{`a\ b`, `\x41`}},
		{in: `\x \c`, escapes: true, want: []string{"x", "c"}},
		{in: `a "b`, err: true},
		{in: `a\`, err: true},
		{in: "  ", want: nil},
	} {
		got, err := SplitQuoted(c.in, c.escapes)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitQuoted(%q, %v) = %q, %v; want %q", c.in, c.escapes, got, err, c.want)
		}
	}
}

func TestConditionalSample(t *testing.T) {
	for id, want := range map[string]string{"high": "170", "low": "85", "": ""} {
		tr, err := Read(fstest.MapFS{"k": {Data: []byte("vrrp_instance VI_0 {\n@high\tpriority 170\n@low\tpriority 85\n}\n")}}, "k", Options{ConfigID: id})
		if err != nil {
			t.Fatal(err)
		}
		b := tr.Statements[0].Block
		if want == "" && len(b) != 0 || want != "" && (len(b) != 1 || b[0].Words[1] != want) {
			t.Errorf("config ID %q: %v", id, b)
		}
	}
}
