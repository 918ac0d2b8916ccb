package config

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// include (check_include, open_glob_file, open_and_check_glob,
// open_conf_file) over an fstest.MapFS standing for "/".
func TestInclude(t *testing.T) {
	files := map[string]string{
		"etc/k/conf.d/a.conf":  "a 1\n",
		"etc/k/conf.d/b.conf":  "b 1\ninclude ../sub/c.conf\n",
		"etc/k/conf.d/.h.conf": "hidden\n",
		"etc/k/conf.d/x.txt":   "txt\n",
		"etc/k/sub/c.conf":     "c ${_PWD}\n",
		"etc/k/open.conf":      "vrrp_instance V {\n  state MASTER\n",
		"etc/k/loop.conf":      "l\ninclude loop.conf\n",
		"etc/k/self1.conf":     "include self2.conf\n",
		"etc/k/self2.conf":     "include self1.conf\n",
		"etc/k/err.conf":       "ok\n}\n",
	}
	runLang(t, []langCase{
		{name: "glob in order, relative to the includer, nested", src: "include etc/k/conf.d/*.conf\nz\n",
			want: "a 1\nb 1\nc etc/k/sub\nz\n"},
		{name: "absolute", src: "include /etc/k/conf.d/a.conf\n", want: "a 1\n"},
		{name: "braces", src: "include etc/k/conf.d/{b,a}.conf\n", want: "b 1\nc etc/k/sub\na 1\n"},
		{name: "inside a block, closed by the includer", src: "x {\ninclude etc/k/open.conf\n}\n}\n",
			want: "x {\n    vrrp_instance V {\n        state MASTER\n    }\n}\n"},
		{name: "include variants", src: "includer etc/k/conf.d/a.conf\nincludea etc/k/conf.d/a.conf\ninclude_x y\n",
			want: "a 1\na 1\ninclude_x y\n"},
		{name: "include needs a blank", src: "include\n", want: "include\n"},
		{name: "missing, not checked", src: "include nope.conf\ninclude nodir/*.conf\ninclude etc/k/*.none\n", want: "", errs: []string{
			"keepalived.conf:1:1: warning: Config files missing 'nope.conf'.",
			"keepalived.conf:2:1: warning: Config files missing 'nodir/*.conf'.",
			"keepalived.conf:3:1: warning: No config files matched 'etc/k/*.none'.",
		}},
		{name: "missing, checked", src: "includem nope.conf\nincludew etc/k/*.none\nincludeb etc/k/conf.d/{a,zz}.conf\ninclude etc/k/conf.d/{a,zz}.conf\n",
			want: "a 1\n", errs: []string{
				"keepalived.conf:1:1: Config files missing 'nope.conf'.",
				"keepalived.conf:2:1: No config files matched 'etc/k/*.none'.",
				"keepalived.conf:3:1: Some config files missing: \"etc/k/conf.d/{a,zz}.conf\".",
				"keepalived.conf:4:1: warning: Some config files missing: \"etc/k/conf.d/{a,zz}.conf\".",
			}},
		{name: "include_check in global_defs", src: "global_defs {\ninclude_check\n}\ninclude nope.conf\n",
			want: "global_defs {\n    include_check\n}\n", errs: []string{"keepalived.conf:4:1: Config files missing 'nope.conf'."}},
		{name: "directory", src: "include etc/k/conf.d\n", want: "", errs: []string{
			"keepalived.conf:1:1: warning: Configuration file 'etc/k/conf.d' is a directory - skipping"}},
		{name: "loop", src: "include etc/k/loop.conf\n", want: "l\n", errs: []string{
			"etc/k/loop.conf:2:1: include loop: configuration file 'etc/k/loop.conf' is already being read - skipping (included from keepalived.conf:1:1)"}},
		{name: "mutual loop", src: "include etc/k/self1.conf\n", want: "", errs: []string{
			"etc/k/self2.conf:1:1: include loop: configuration file 'etc/k/self1.conf' is already being read - skipping (included from etc/k/self1.conf:1:1) (included from keepalived.conf:1:1)"}},
		{name: "error in an included file", src: "x\ninclude etc/k/err.conf\n", want: "x\nok\n", errs: []string{
			"etc/k/err.conf:2:1: Extra '}' found (included from keepalived.conf:2:1)"}},
		// A generator runs before the included file is read, so the
		// second include comes first, and is relative to the first
		// included file's directory.
		{name: "generated include", src: "~LST(F, a, b) include /etc/k/conf.d/${F}.conf\n~LST(F, a, b) include etc/k/conf.d/${F}.conf\n",
			want: "b 1\nc etc/k/sub\na 1\na 1\n", errs: []string{"keepalived.conf:2:15: warning: Config files missing 'etc/k/conf.d/b.conf'."}},
	}, files)
}

func TestIncludeLimits(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := range 40 {
		fsys[name(i)] = &fstest.MapFile{Data: []byte("include " + name(i+1) + "\n")}
	}
	_, err := Read(fsys, name(0), Options{})
	if err == nil || !strings.Contains(err.Error(), "nested more than 32 deep") {
		t.Errorf("depth: %v", err)
	}
	// Each file includes the next one twice: 2^20 reads without the
	// budget.
	fsys = fstest.MapFS{}
	for i := range 20 {
		fsys[name(i)] = &fstest.MapFile{Data: []byte("include " + name(i+1) + "\ninclude " + name(i+1) + "\n")}
	}
	fsys[name(20)] = &fstest.MapFile{Data: []byte("x\n")}
	_, err = Read(fsys, name(0), Options{MaxWork: 10000})
	if err == nil || !strings.Contains(err.Error(), "configuration too large") {
		t.Errorf("budget: %v", err)
	}
	// Generators: 10^3 lines wanted, 100 allowed.
	_, err = Read(fstest.MapFS{"k": {Data: []byte("~SEQ(A,1,10) ~SEQ(B,1,10) ~SEQ(C,1,10) x\n")}}, "k", Options{MaxWork: 100})
	if err == nil || !strings.Contains(err.Error(), "k:1:") {
		t.Errorf("generators: %v", err)
	}
}

func name(i int) string { return "f" + strings.Repeat("x", i) + ".conf" }

func TestMainFile(t *testing.T) {
	_, err := Read(fstest.MapFS{}, "keepalived.conf", Options{})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 || list[1].Severity != SeverityFatal ||
		list[1].Error() != "keepalived.conf: Failed to open configuration file" {
		t.Errorf("missing main file: %v", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("%v does not wrap ErrInvalid", err)
	}
	tr, err := Read(fstest.MapFS{"a.conf": {Data: []byte("a\n")}, "b.conf": {Data: []byte("b\n")}}, "*.conf", Options{})
	if err != nil || len(tr.Statements) != 2 || len(tr.Warnings) != 1 {
		t.Errorf("glob main file: %v %v", err, tr.Warnings)
	}
}

func TestReadFile(t *testing.T) {
	tr, err := ReadFile("testdata/samples/keepalived.conf.vrrp", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := tr.Statements[0].Pos.File; !strings.HasPrefix(f, "/") || !strings.HasSuffix(f, "/config/testdata/samples/keepalived.conf.vrrp") {
		t.Errorf("file name %q", f)
	}
}
