package config

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// dump renders statements with their positions, for golden files.
func dump(b *strings.Builder, stmts []Statement, depth int) {
	for _, s := range stmts {
		fmt.Fprintf(b, "%-6s %s", fmt.Sprintf("%d:%d", s.Pos.Line, s.Pos.Col), strings.Repeat("    ", depth))
		for i, w := range s.Words {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(Quote(w))
		}
		if s.HasBlock {
			fmt.Fprintf(b, " {  # %d:%d\n", s.Open.Line, s.Open.Col)
			dump(b, s.Block, depth+1)
			fmt.Fprintf(b, "%-6s %s}\n", fmt.Sprintf("%d:%d", s.Close.Line, s.Close.Col), strings.Repeat("    ", depth))
			continue
		}
		b.WriteByte('\n')
	}
}

func testOptions() Options {
	return Options{
		Rand:   rand.New(rand.NewPCG(1, 2)),
		Getenv: func(name string) string { return map[string]string{"IF": "eth9"}[name] },
	}
}

// TestSamples reads every sample configuration shipped with keepalived
// (doc/samples/) without an error, and compares a few with golden
// renderings (positions included).
func TestSamples(t *testing.T) {
	names, err := filepath.Glob("testdata/samples/keepalived.conf.*")
	if err != nil || len(names) != 25 {
		t.Fatalf("samples: %d files, %v", len(names), err)
	}
	golden := map[string]string{
		"keepalived.conf.sample":           "",
		"keepalived.conf.vrrp.localcheck":  "",
		"keepalived.conf.conditional_conf": "high",
		"keepalived.conf.misc_check_arg":   "",
		"keepalived.conf.virtualhost":      "",
	}
	fsys := os.DirFS("testdata/samples")
	for _, n := range names {
		base := filepath.Base(n)
		t.Run(base, func(t *testing.T) {
			opts := testOptions()
			id, isGolden := golden[base]
			opts.ConfigID = id
			tr, err := Read(fsys, base, opts)
			if err != nil || len(tr.Warnings) > 0 {
				t.Fatalf("Read: %v, warnings %v", err, tr.Warnings)
			}
			if len(tr.Statements) == 0 {
				t.Fatal("no statements")
			}
			if !isGolden {
				return
			}
			var b strings.Builder
			dump(&b, tr.Statements, 0)
			gf := filepath.Join("testdata", "golden", base+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(gf), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(gf, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(gf)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("rendering differs from %s (go test -update to rewrite):\n%s", gf, b.String())
			}
		})
	}
}

// TestFormatRoundTrip: Format's output reads back to the same words and
// blocks for every sample.
func TestFormatRoundTrip(t *testing.T) {
	names, _ := filepath.Glob("testdata/samples/keepalived.conf.*")
	for _, n := range names {
		tr, _ := Read(os.DirFS("testdata/samples"), filepath.Base(n), testOptions())
		var a, b strings.Builder
		if err := Format(&a, tr.Statements); err != nil {
			t.Fatal(err)
		}
		tr2, err := Read(fstest.MapFS{"k.conf": {Data: []byte(a.String())}}, "k.conf", testOptions())
		if err != nil {
			t.Fatalf("%s: reading Format's output: %v", n, err)
		}
		Format(&b, tr2.Statements)
		if a.String() != b.String() {
			t.Errorf("%s: round trip differs:\n%s\n---\n%s", n, a.String(), b.String())
		}
	}
}

// readString reads src as keepalived.conf (with the other files of
// extra) and returns Format's rendering and the errors as strings.
func readString(t *testing.T, src string, opts Options, extra map[string]string) (string, []string) {
	t.Helper()
	fsys := fstest.MapFS{"keepalived.conf": {Data: []byte(src)}}
	for name, data := range extra {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	tr, err := Read(fsys, "keepalived.conf", opts)
	var b strings.Builder
	Format(&b, tr.Statements)
	var msgs []string
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("error %v does not wrap ErrInvalid", err)
		}
		var list ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("error %T is not an ErrorList", err)
		}
		for _, e := range list {
			msgs = append(msgs, e.Error())
		}
	}
	for _, w := range tr.Warnings {
		msgs = append(msgs, w.Error())
	}
	return b.String(), msgs
}

type langCase struct {
	name string
	src  string
	want string   // Format's output
	errs []string // every error and warning, in order
	id   string   // Options.ConfigID
}

func runLang(t *testing.T, cases []langCase, extra map[string]string) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := testOptions()
			opts.ConfigID = c.id
			got, errs := readString(t, c.src, opts, extra)
			if got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			if strings.Join(errs, "\n") != strings.Join(c.errs, "\n") {
				t.Errorf("errors\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(c.errs, "\n"))
			}
		})
	}
}
