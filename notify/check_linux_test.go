package notify

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkCase is a script for Check, laid out by setup in a fresh directory.
type checkCase struct {
	name  string
	setup func(t *testing.T, dir string) *Script
	// wantErr and wantWarn are the sentinels expected in err and warning
	// (nil: none), and path the CheckError.Path expected, relative to dir
	// (the first CheckError's).
	wantErr, wantWarn error
	path              string
	sec               Security
}

func runCheckCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := tc.setup(t, dir)
			warn, err := s.Check(tc.sec)
			t.Logf("warning: %v; err: %v", warn, err)
			if !matches(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !matches(warn, tc.wantWarn) {
				t.Errorf("warning = %v, want %v", warn, tc.wantWarn)
			}
			got := err
			if got == nil {
				got = warn
			}
			var ce *CheckError
			if tc.path != "" && (!errors.As(got, &ce) || ce.Path != filepath.Join(dir, tc.path)) {
				t.Errorf("CheckError %#v, want Path %s", ce, filepath.Join(dir, tc.path))
			}
		})
	}
}

// matches: want nil means got is nil, or (for warnings) holds no
// sentinel of this package.
func matches(got, want error) bool {
	if want == nil {
		return got == nil || !(errors.Is(got, ErrUnsafe) || errors.Is(got, ErrNotFound) || errors.Is(got, ErrNotExecutable))
	}
	return errors.Is(got, want)
}

// file writes a script at dir/rel with mode, owner uid:gid (-1 leaves it).
func file(t *testing.T, dir, rel string, mode os.FileMode, uid, gid int) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chmodOwn(t, p, mode, uid, gid)
	return p
}

// chmodOwn sets p's mode and, where not -1, owner.
func chmodOwn(t *testing.T, p string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if uid != -1 || gid != -1 {
		if err := os.Lchown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir, rel string, mode os.FileMode, uid, gid int) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	chmodOwn(t, p, mode, uid, gid)
	return p
}

func script(p string) *Script { return &Script{Args: []string{p}} }

// TestCheckAnyUser: the checks that do not depend on running as root.
func TestCheckAnyUser(t *testing.T) {
	runCheckCases(t, []checkCase{
		{name: "ok", setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o755, -1, -1))
		}},
		{name: "missing", wantErr: ErrNotFound, setup: func(t *testing.T, dir string) *Script {
			return script(filepath.Join(dir, "nope.sh"))
		}},
		{name: "missing directory", wantErr: ErrNotFound, setup: func(t *testing.T, dir string) *Script {
			return script(filepath.Join(dir, "nodir", "s.sh"))
		}},
		{name: "not executable", wantErr: ErrNotExecutable, path: "s.sh", setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o644, -1, -1))
		}},
		{name: "directory", wantErr: ErrNotExecutable, path: "d", setup: func(t *testing.T, dir string) *Script {
			return script(mkdir(t, dir, "d", 0o755, -1, -1))
		}},
		{name: "no shebang", wantWarn: nil, setup: func(t *testing.T, dir string) *Script {
			p := file(t, dir, "s", 0o755, -1, -1)
			os.WriteFile(p, []byte("exit 0\n"), 0o755)
			return script(p)
		}},
		{name: "bare name not in PATH", wantErr: ErrNotFound, setup: func(t *testing.T, dir string) *Script {
			t.Setenv("PATH", dir)
			return script("vigil-no-such-script")
		}},
		{name: "bare name in PATH not executable", wantErr: ErrNotExecutable, setup: func(t *testing.T, dir string) *Script {
			file(t, dir, "s.sh", 0o644, -1, -1)
			t.Setenv("PATH", "/nonexistent:"+dir)
			return script("s.sh")
		}},
	})
}

func TestCheckResolves(t *testing.T) {
	t.Run("PATH", func(t *testing.T) {
		dir := t.TempDir()
		p := file(t, dir, "s.sh", 0o755, -1, -1)
		file(t, dir, "later/s.sh", 0o755, -1, -1)
		t.Setenv("PATH", "/nonexistent::"+dir+":"+filepath.Join(dir, "later"))
		s := script("s.sh")
		warn, err := s.Check(Security{Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.Args[0] != p || s.Path != "" {
			t.Errorf("Args[0] %q, Path %q; want %s", s.Args[0], s.Path, p)
		}
		if warn == nil || !strings.Contains(warn.Error(), "resolved by path search to "+p) {
			t.Errorf("warning %v", warn)
		}
	})
	t.Run("no shebang", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "s")
		os.WriteFile(p, []byte("exit 0\n"), 0o755)
		os.Chmod(p, 0o755)
		warn, err := script(p).Check(Security{})
		if err != nil || warn == nil || !strings.Contains(warn.Error(), "no #! line") {
			t.Errorf("warning %v, err %v", warn, err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		real := file(t, dir, "real/s.sh", 0o755, -1, -1)
		link := filepath.Join(dir, "link.sh")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		s := &Script{Args: []string{link, "arg"}}
		if _, err := s.Check(Security{Enabled: true}); err != nil {
			t.Fatal(err)
		}
		if s.Args[0] != link || s.Path != real || s.Args[1] != "arg" {
			t.Errorf("Args %q, Path %q; want argv[0] %s, Path %s", s.Args, s.Path, link, real)
		}
		s = &Script{Args: []string{link}}
		if _, err := s.Check(Security{Enabled: true, SymlinkPaths: true}); err != nil {
			t.Fatal(err)
		}
		if s.Args[0] != link || s.Path != "" {
			t.Errorf("SymlinkPaths: Args %q, Path %q", s.Args, s.Path)
		}
	})
	t.Run("untidy", func(t *testing.T) {
		dir := t.TempDir()
		p := file(t, dir, "s.sh", 0o755, -1, -1)
		s := script(dir + "//./s.sh")
		if _, err := s.Check(Security{}); err != nil {
			t.Fatal(err)
		}
		if s.Args[0] != p || s.Path != "" {
			t.Errorf("Args[0] %q, Path %q; want %s", s.Args[0], s.Path, p)
		}
	})
	t.Run("does not alias Args", func(t *testing.T) {
		dir := t.TempDir()
		file(t, dir, "s.sh", 0o755, -1, -1)
		t.Setenv("PATH", dir)
		args := []string{"s.sh"}
		s := &Script{Args: args}
		if _, err := s.Check(Security{}); err != nil {
			t.Fatal(err)
		}
		if args[0] != "s.sh" {
			t.Errorf("the caller's slice changed: %q", args)
		}
	})
}

// TestCheckOwners: keepalived's check_security for scripts run as root.
func TestCheckOwners(t *testing.T) {
	needRoot(t, "checking files owned by other users")
	enabled := Security{Enabled: true}
	const other = 4242
	runCheckCases(t, []checkCase{
		{name: "root 0755", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o755, 0, 0))
		}},
		{name: "group-writable by another group", sec: enabled, wantErr: ErrUnsafe, path: "s.sh", setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o775, 0, other))
		}},
		{name: "group-writable by another group, security off", wantWarn: ErrUnsafe, path: "s.sh", setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o775, 0, other))
		}},
		{name: "group-writable by gid 0", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o775, 0, 0))
		}},
		{name: "world-writable file", sec: enabled, wantErr: ErrUnsafe, path: "s.sh", setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o757, 0, 0))
		}},
		{name: "owned by another user", sec: enabled, wantErr: ErrUnsafe, path: "s.sh", setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o755, other, 0))
		}},
		{name: "directory owned by another user", sec: enabled, wantErr: ErrUnsafe, path: "d", setup: func(t *testing.T, dir string) *Script {
			mkdir(t, dir, "d", 0o755, other, 0)
			return script(file(t, dir, "d/s.sh", 0o755, 0, 0))
		}},
		{name: "world-writable directory", sec: enabled, wantErr: ErrUnsafe, path: "d", setup: func(t *testing.T, dir string) *Script {
			mkdir(t, dir, "d", 0o777, 0, 0)
			return script(file(t, dir, "d/s.sh", 0o755, 0, 0))
		}},
		{name: "group-writable directory", sec: enabled, wantErr: ErrUnsafe, path: "d", setup: func(t *testing.T, dir string) *Script {
			mkdir(t, dir, "d", 0o775, 0, other)
			return script(file(t, dir, "d/s.sh", 0o755, 0, 0))
		}},
		{name: "sticky world-writable directory", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			mkdir(t, dir, "d", 0o777|os.ModeSticky, 0, 0)
			return script(file(t, dir, "d/s.sh", 0o755, 0, 0))
		}},
		{name: "symlink to unsafe target", sec: enabled, wantErr: ErrUnsafe, path: "real/s.sh", setup: func(t *testing.T, dir string) *Script {
			real := file(t, dir, "real/s.sh", 0o775, 0, other)
			link := filepath.Join(dir, "link.sh")
			os.Symlink(real, link)
			return script(link)
		}},
		{name: "symlink to unsafe target, SymlinkPaths", sec: Security{Enabled: true, SymlinkPaths: true}, wantErr: ErrUnsafe, path: "real/s.sh", setup: func(t *testing.T, dir string) *Script {
			real := file(t, dir, "real/s.sh", 0o775, 0, other)
			link := filepath.Join(dir, "link.sh")
			os.Symlink(real, link)
			return script(link)
		}},
		{name: "symlink owned by another user", sec: enabled, wantErr: ErrUnsafe, path: "link.sh", setup: func(t *testing.T, dir string) *Script {
			real := file(t, dir, "real/s.sh", 0o755, 0, 0)
			link := filepath.Join(dir, "link.sh")
			os.Symlink(real, link)
			os.Lchown(link, other, other)
			return script(link)
		}},
		// keepalived refuses this one ("Wrong file type found in script
		// path"); vigil walks the resolved path as well, and accepts it.
		{name: "root symlinked directory", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			file(t, dir, "usr/bin/s.sh", 0o755, 0, 0)
			os.Symlink("usr/bin", filepath.Join(dir, "bin"))
			return script(filepath.Join(dir, "bin/s.sh"))
		}},
		{name: "symlinked directory to an unsafe one", sec: enabled, wantErr: ErrUnsafe, path: "usr/bin", setup: func(t *testing.T, dir string) *Script {
			mkdir(t, dir, "usr", 0o755, 0, 0)
			mkdir(t, dir, "usr/bin", 0o777, 0, 0)
			file(t, dir, "usr/bin/s.sh", 0o755, 0, 0)
			os.Symlink("usr/bin", filepath.Join(dir, "bin"))
			return script(filepath.Join(dir, "bin/s.sh"))
		}},
		// A script run by nobody needs no protection...
		{name: "nobody, group-writable", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			openToNobody(t, dir)
			s := script(file(t, dir, "s.sh", 0o775, 0, other))
			s.User = &User{UID: 65534, GID: 65534}
			return s
		}},
		// ...unless it is set-user-ID root.
		{name: "nobody, setuid root", sec: enabled, wantErr: ErrUnsafe, path: "d", setup: func(t *testing.T, dir string) *Script {
			openToNobody(t, dir)
			mkdir(t, dir, "d", 0o775, 0, other)
			s := script(file(t, dir, "d/s.sh", 0o755|os.ModeSetuid, 0, 0))
			s.User = &User{UID: 65534, GID: 65534}
			return s
		}},
		{name: "nobody, setgid root", sec: enabled, wantErr: ErrUnsafe, path: "d", setup: func(t *testing.T, dir string) *Script {
			openToNobody(t, dir)
			mkdir(t, dir, "d", 0o775, 0, other)
			s := script(file(t, dir, "d/s.sh", 0o755|os.ModeSetgid, 0, 0))
			s.User = &User{UID: 65534, GID: 65534}
			return s
		}},
		{name: "nobody, directory not searchable", sec: enabled, wantErr: ErrNotFound, setup: func(t *testing.T, dir string) *Script {
			s := script(file(t, dir, "s.sh", 0o755, 0, 0))
			s.User = &User{UID: 65534, GID: 65534}
			return s
		}},
		{name: "nobody, searchable through a supplementary group", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			openToNobody(t, dir)
			mkdir(t, dir, "d", 0o750, 0, other)
			s := script(file(t, dir, "d/s.sh", 0o755, 0, 0))
			s.User = &User{UID: 65534, GID: 65534, Groups: []uint32{other}}
			return s
		}},
		{name: "nobody, not executable for others", sec: enabled, wantErr: ErrNotExecutable, path: "s.sh", setup: func(t *testing.T, dir string) *Script {
			openToNobody(t, dir)
			s := script(file(t, dir, "s.sh", 0o754, 0, 0))
			s.User = &User{UID: 65534, GID: 65534}
			return s
		}},
		// keepalived's is_executable looks at the primary group only.
		{name: "nobody, executable through a supplementary group only", sec: enabled, wantErr: ErrNotExecutable, path: "s.sh", setup: func(t *testing.T, dir string) *Script {
			openToNobody(t, dir)
			s := script(file(t, dir, "s.sh", 0o750, 0, other))
			s.User = &User{UID: 65534, GID: 65534, Groups: []uint32{other}}
			return s
		}},
		{name: "nobody, executable through the primary group", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			openToNobody(t, dir)
			s := script(file(t, dir, "s.sh", 0o750, 0, other))
			s.User = &User{UID: 65534, GID: other}
			return s
		}},
		{name: "root, any execute bit", sec: enabled, setup: func(t *testing.T, dir string) *Script {
			return script(file(t, dir, "s.sh", 0o701, 0, 0))
		}},
	})
}

func TestCheckErrorText(t *testing.T) {
	needRoot(t, "checking a script run as root")
	dir := t.TempDir()
	d := mkdir(t, dir, "d", 0o777, 0, 0)
	p := file(t, dir, "d/s.sh", 0o755, 0, 0)
	_, err := script(p).Check(Security{Enabled: true})
	want := "notify: script " + p + ": " + d + ": unsafe permissions: writable by everyone (mode drwxrwxrwx)"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	_, err = script(filepath.Join(dir, "nope")).Check(Security{})
	want = "notify: script " + filepath.Join(dir, "nope") + ": script not found: cannot be accessed: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestLookupUser(t *testing.T) {
	nobody, err := LookupUser("nobody", "", false)
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	if nobody.UID == 0 || nobody.Groups != nil {
		t.Errorf("nobody: %+v", nobody)
	}
	u, err := LookupUser("nobody", "root", false)
	if err != nil || u.UID != nobody.UID || u.GID != 0 || u.Groups != nil {
		t.Errorf("nobody root: %+v, %v", u, err)
	}
	// ":" asks for the supplementary groups, which hold the primary one.
	for _, group := range []string{":", ""} {
		u, err = LookupUser("nobody", group, group == "")
		if err != nil || u.GID != nobody.GID || len(u.Groups) == 0 || u.Groups[0] != nobody.GID {
			t.Errorf("nobody %q: %+v, %v", group, u, err)
		}
	}
	u, err = LookupUser("nobody", ":root", false)
	if err != nil || u.GID != 0 || len(u.Groups) == 0 {
		t.Errorf("nobody :root: %+v, %v", u, err)
	}
	if _, err := LookupUser("vigil-no-such-user", "", false); err == nil {
		t.Error("unknown user accepted")
	}
	if _, err := LookupUser("nobody", "vigil-no-such-group", false); err == nil {
		t.Error("unknown group accepted")
	}
	if _, err := LookupUser("65534", "", false); err == nil {
		t.Error("a uid accepted as a name")
	}
}

func TestDefaultUser(t *testing.T) {
	want, lookupErr := LookupUser(DefaultScriptUser, "", false)
	u, err := DefaultUser(Security{}, false)
	if lookupErr == nil {
		if err != nil || !reflect.DeepEqual(u, want) {
			t.Errorf("DefaultUser = %+v, %v; want %+v", u, err, want)
		}
		return
	}
	if u != nil || err != nil {
		t.Errorf("without %s and security: %+v, %v; want nil, nil", DefaultScriptUser, u, err)
	}
	u, err = DefaultUser(Security{Enabled: true}, false)
	if u != nil || !errors.Is(err, ErrNoDefaultUser) {
		t.Errorf("without %s, with security: %+v, %v", DefaultScriptUser, u, err)
	}
}

func TestScriptValidate(t *testing.T) {
	err := (&Script{}).Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Args" || err.Error() != "notify: script: Args: empty" {
		t.Errorf("no Args: %v", err)
	}
	err = (&Script{Args: []string{"", "x\x00"}, Path: "a\x00"}).Validate()
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 || !errors.Is(err, ErrInvalid) {
		t.Errorf("want 3 problems, got %d: %v", n, err)
	}
	if _, err := (&Script{}).Check(Security{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Check without Args: %v", err)
	}
}

// TestCheckPathAsUser: the PATH search skips the directories the user
// may not search, as keepalived's find_path does under the user's euid
// (root only).
func TestCheckPathAsUser(t *testing.T) {
	needRoot(t, "checking for another user")
	dir := t.TempDir()
	openToNobody(t, dir)
	mkdir(t, dir, "closed", 0o700, 0, 0)
	file(t, dir, "closed/s.sh", 0o755, 0, 0)
	mkdir(t, dir, "open", 0o755, 0, 0)
	want := file(t, dir, "open/s.sh", 0o755, 0, 0)
	t.Setenv("PATH", filepath.Join(dir, "closed")+":"+filepath.Join(dir, "open"))
	s := &Script{Args: []string{"s.sh"}, User: &User{UID: 65534, GID: 65534}}
	if _, err := s.Check(Security{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if s.Args[0] != want {
		t.Errorf("found %s, want %s", s.Args[0], want)
	}
}

// TestCheckRelative: a relative program stays a path, never a name to
// look up in PATH.
func TestCheckRelative(t *testing.T) {
	dir := t.TempDir()
	p := file(t, dir, "s.sh", 0o755, -1, -1)
	t.Chdir(dir)
	t.Setenv("PATH", "/nonexistent")
	for _, sec := range []Security{{}, {SymlinkPaths: true}} {
		s := script("./s.sh")
		if _, err := s.Check(sec); err != nil {
			t.Fatal(err)
		}
		if s.Args[0] != "./s.sh" || (s.Path != p && !sec.SymlinkPaths) || (s.Path != "" && sec.SymlinkPaths) {
			t.Errorf("%+v: Args[0] %q, Path %q", sec, s.Args[0], s.Path)
		}
		if res, err := s.Run(testCtx(t, 10*time.Second)); err != nil || !res.OK() {
			t.Errorf("%+v: run: %v, %v", sec, res, err)
		}
	}
}
