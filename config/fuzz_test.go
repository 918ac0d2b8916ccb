package config

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/fstest"
)

// FuzzRead reads arbitrary input as keepalived.conf, with a second file
// (the same input) to include, and checks that Read never panics, stays
// within its budget, gives every error a position, and reads with the
// lexer on its own goroutine what it reads serially.
func FuzzRead(f *testing.F) {
	addSamples(f)
	for _, s := range []string{
		"$A=$A\nx $A\n",
		"$A=${B}${B}\n$B=${A}\nx $A\n",
		"$M= \\\na $M \\\n}\n$M\n",
		"~SEQ(A,1,1000000) ~SEQ(B,1,1000000) x $A $B\n",
		"~SEQx(H, 0x7fffffffffffffff, 1, 0x7fffffffffffffff) ~LST({A,B},{1,2},{3}) x\n",
		"include inc.conf\ninclude *\ninclude {a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}\n",
		"@main a {\n@^main }\n{ { } } }\n\"x\n${_RANDOM 18446744073709551615 0}\n",
		"global_defs {\ninclude_check -read +brace_match x\n}\n",
		"$X=@main\n$X $Y=~SEQ(N,3) $X\n$Y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"keepalived.conf": {Data: data},
			"inc.conf":        {Data: data},
			"d/x.conf":        {Data: data},
		}
		opts := Options{ConfigID: "main", MaxWork: 5000, Rand: rand.New(rand.NewPCG(1, 1)), Getenv: func(string) string { return "" }}
		tr, err := Read(fsys, "keepalived.conf", opts)
		if tr == nil {
			t.Fatal("nil tree")
		}
		if list, ok := err.(ErrorList); ok {
			for _, e := range list {
				if e.Pos.File == "" || e.Pos.Line < 0 {
					t.Errorf("error without a position: %v", e)
				}
			}
		} else if err != nil {
			t.Fatalf("error %T", err)
		}
		var walk func([]Statement)
		walk = func(ss []Statement) {
			for _, s := range ss {
				if len(s.Words) == 0 || len(s.Cols) != len(s.Words) || s.Pos.Line < 1 {
					t.Fatalf("bad statement %+v", s)
				}
				walk(s.Block)
			}
		}
		walk(tr.Statements)

		// The lexer on its own goroutine (linePipe) reads what it
		// reads serially, problems in the same order.
		opts.serial, opts.Rand = true, rand.New(rand.NewPCG(1, 1))
		str, serr := Read(fsys, "keepalived.conf", opts)
		if d := firstDiff("Tree", reflect.ValueOf(tr), reflect.ValueOf(str)); d != "" {
			t.Fatalf("piped and serial reads differ at %s", d)
		}
		if fmt.Sprint(err) != fmt.Sprint(serr) {
			t.Fatalf("piped read reported\n%v\nserial read\n%v", err, serr)
		}
	})
}

// addSamples seeds f with keepalived's sample configurations.
func addSamples(f *testing.F) {
	names, _ := filepath.Glob("testdata/samples/keepalived.conf.*")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
