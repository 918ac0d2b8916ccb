package config

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"
)

// kwRow is one line of testdata/keywords.tsv.
type kwRow struct {
	block, keyword, prio, example string
}

func readKeywords(t *testing.T) []kwRow {
	t.Helper()
	return readTSV(t, "testdata/keywords.tsv")
}

// readExtensions reads testdata/extensions.tsv: vigil's own keywords
// (the bgp block), priority X, in keywords.tsv's format.
func readExtensions(t *testing.T) []kwRow {
	t.Helper()
	return readTSV(t, "testdata/extensions.tsv")
}

func readTSV(t *testing.T, name string) []kwRow {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []kwRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 4 {
			t.Fatalf("%s: %q: want 4 columns", name, sc.Text())
		}
		rows = append(rows, kwRow{c[0], c[1], c[2], c[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// keywordConfig writes every row's example into its block: the rows of
// block B are the lines of the block opened by the row whose path
// (block/keyword) is B.
func keywordConfig(rows []kwRow) string {
	byBlock := map[string][]kwRow{}
	for _, r := range rows {
		byBlock[r.block] = append(byBlock[r.block], r)
	}
	var b strings.Builder
	var write func(block string, depth int)
	write = func(block string, depth int) {
		for _, r := range byBlock[block] {
			b.WriteString(strings.Repeat("  ", depth) + r.example)
			sub := r.keyword
			if block != "top" {
				sub = block + "/" + r.keyword
			}
			if _, ok := byBlock[sub]; ok && !strings.HasSuffix(r.example, "}") {
				b.WriteString(" {\n")
				write(sub, depth+1)
				b.WriteString(strings.Repeat("  ", depth) + "}")
			}
			b.WriteString("\n")
		}
	}
	write("top", 0)
	return b.String()
}

type kwResult struct {
	st  kwStatus
	why string
}

// keywordStatus loads the generated configuration and returns the
// status of every row: what the loader said, or for a keyword in a
// block the loader did not read, that block's.
func keywordStatus(t *testing.T, rows []kwRow) (map[kwRow]kwResult, string) {
	t.Helper()
	text := keywordConfig(rows)
	tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(text)}}, "k.conf", Options{})
	if err != nil {
		t.Fatalf("Read: %v\n%s", err, text)
	}
	seen := map[[2]string]kwResult{}
	l := newLoader(LoadOptions{LookupUser: fakeUsers})
	l.seen = func(block, kw string, st kwStatus, why string) {
		k := [2]string{block, kw}
		if _, ok := seen[k]; !ok {
			seen[k] = kwResult{st, why}
		}
		if st == kwUnknown {
			t.Errorf("%s: %s is unknown", block, kw)
		}
	}
	l.load(tr.Statements)
	out := map[kwRow]kwResult{}
	for _, r := range rows {
		if res, ok := seen[[2]string{r.block, r.keyword}]; ok {
			out[r] = res
			continue
		}
		// The nearest enclosing block the loader did read.
		found := false
		for b := r.block; b != "top" && !found; b = path.Dir(b) {
			parent, kw := path.Split(b)
			parent = strings.TrimSuffix(parent, "/")
			if parent == "" {
				parent = "top"
			}
			res, ok := seen[[2]string{parent, kw}]
			if !ok {
				continue
			}
			found = true
			if res.st != kwIgnored && res.st != kwRejected {
				t.Errorf("%s: %s: never reached the loader, though %s is %v (block named otherwise than KEYWORD ARGS: ...?)", r.block, r.keyword, b, res.st)
				continue
			}
			out[r] = kwResult{kwIgnored, fmt.Sprintf("%s is ignored: %s", kw, res.why)}
			if path.Dir(b) == "." {
				break
			}
		}
		if !found {
			t.Errorf("%s: %s: never reached the loader", r.block, r.keyword)
		}
	}
	return out, text
}

// kwExceptions are the M and S keywords vigil does not map, and why.
// A block (or block/keyword) here covers what is under it.
var kwExceptions = map[string]string{}

func exception(r kwRow) (string, bool) {
	p := r.block + "/" + r.keyword
	if r.block == "top" {
		p = "top/" + r.keyword
	}
	for ; p != "." && p != "/"; p = path.Dir(p) {
		why, ok := kwExceptions[p]
		if !ok && !strings.HasPrefix(p, "top/") {
			why, ok = kwExceptions["top/"+p]
		}
		if ok {
			return why, true
		}
	}
	return "", false
}

// TestKeywordDoc loads a configuration holding every keyword of the
// inventory (testdata/keywords.tsv) and of vigil's extensions
// (testdata/extensions.tsv, priority X) in its block and checks that the
// loader knows each, maps every M, S and X one (but kwExceptions), that
// no extension is a keepalived keyword of its block, and that
// docs/keepalived.md's keyword table is the one it generates (go test
// ./config -run TestKeywordDoc -update rewrites it).
func TestKeywordDoc(t *testing.T) {
	rows := readKeywords(t)
	inventory := map[[2]string]bool{}
	for _, r := range rows {
		inventory[[2]string{r.block, r.keyword}] = true
	}
	for _, r := range readExtensions(t) {
		if r.prio != "X" {
			t.Errorf("extensions.tsv: %s: %s: priority %s, want X", r.block, r.keyword, r.prio)
		}
		if inventory[[2]string{r.block, r.keyword}] {
			t.Errorf("extensions.tsv: %s: %s is a keepalived keyword (keywords.tsv)", r.block, r.keyword)
		}
		rows = append(rows, r)
	}
	status, _ := keywordStatus(t, rows)
	used := map[string]bool{}
	for _, r := range rows {
		res, ok := status[r]
		if !ok {
			continue
		}
		why, exc := exception(r)
		handled := res.st == kwSupported || res.st == kwDiffers
		switch {
		case exc && handled:
			t.Errorf("%s: %s is mapped now: remove its exception (%s)", r.block, r.keyword, why)
		case exc:
			used[why] = true
		case (r.prio == "M" || r.prio == "S" || r.prio == "X") && !handled:
			t.Errorf("%s: %s (%s) is %v: %s", r.block, r.keyword, r.prio, res.st, res.why)
		}
	}
	doc := keywordTable(rows, status)
	const name = "../docs/keepalived.md"
	const begin, end = "<!-- keyword table: generated by go test ./config -run TestKeywordDoc -update -->\n", "<!-- end of keyword table -->\n"
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no %q ... %q", name, begin, end)
	}
	if got := s[i+len(begin) : j]; got != doc {
		if !*update {
			t.Errorf("%s: the keyword table is not the loader's: run go test ./config -run TestKeywordDoc -update", name)
			return
		}
		if err := os.WriteFile(name, []byte(s[:i+len(begin)]+doc+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// keywordTable is the Markdown table of the keywords and their status,
// with counts per priority first.
func keywordTable(rows []kwRow, status map[kwRow]kwResult) string {
	var b strings.Builder
	counts := map[string]map[kwStatus]int{}
	for _, r := range rows {
		if counts[r.prio] == nil {
			counts[r.prio] = map[kwStatus]int{}
		}
		counts[r.prio][status[r].st]++
	}
	sts := []kwStatus{kwSupported, kwDiffers, kwIgnored, kwRejected}
	b.WriteString("\n| priority |")
	for _, st := range sts {
		b.WriteString(" " + st.String() + " |")
	}
	b.WriteString("\n|---|---|---|---|---|\n")
	for _, p := range []string{"M", "S", "L", "N", "X"} {
		b.WriteString("| " + p + " |")
		for _, st := range sts {
			fmt.Fprintf(&b, " %d |", counts[p][st])
		}
		b.WriteString("\n")
	}
	b.WriteString("\n| block | keyword | P | status | note |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		res := status[r]
		block := strings.ReplaceAll(r.block, "/", " › ")
		if block == "top" {
			block = "(top level)"
		}
		why := strings.ReplaceAll(res.why, "|", `\|`)
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", block, r.keyword, r.prio, res.st, why)
	}
	b.WriteString("\n")
	return b.String()
}

// TestKeywordSeen checks the hook on a small configuration: a handled,
// an ignored and an unknown keyword (no keyword behaves differently
// now; TestKeywordDiffers checks that mark).
func TestKeywordSeen(t *testing.T) {
	tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte("global_defs {\n router_id r\n enable_dbus\n bogus\n}\n")}}, "k.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	l := newLoader(LoadOptions{LookupUser: fakeUsers})
	l.seen = func(block, kw string, st kwStatus, why string) {
		got = append(got, fmt.Sprintf("%s %s %v", block, kw, st))
	}
	l.load(tr.Statements)
	want := []string{"global_defs router_id supported",
		"global_defs enable_dbus ignored", "global_defs bogus unknown", "top global_defs supported"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("seen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKeywordDiffers checks the mark a handler gives a keyword vigil
// maps with a different behaviour: the status, the why and a warning.
func TestKeywordDiffers(t *testing.T) {
	l := newLoader(LoadOptions{LookupUser: fakeUsers})
	l.differs(&Statement{Words: []string{"kw", "1"}}, "because")
	if l.cur != (kwNote{kwDiffers, "because"}) {
		t.Errorf("cur = %+v", l.cur)
	}
	if len(l.errs) != 1 || l.errs[0].Severity != SeverityWarning || !strings.Contains(l.errs[0].Msg, "kw: behaves differently: because") {
		t.Errorf("errors = %v", l.errs)
	}
}
