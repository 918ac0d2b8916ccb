package notify

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Security holds keepalived's global settings for script checks.
type Security struct {
	// Enabled is keepalived's enable_script_security: a script that runs
	// as root with unsafe permissions is disabled, not just reported, and
	// DefaultUser refuses to fall back to this process's user.
	Enabled bool
	// SymlinkPaths is keepalived's use_symlink_paths: a script is run by
	// the path configured, its symbolic links followed at every run,
	// rather than by the file they led to at Check.
	SymlinkPaths bool
}

// defaultPath is searched when PATH is not set: glibc's _CS_PATH, which
// keepalived's find_path falls back to.
const defaultPath = "/bin:/usr/bin"

// Check does keepalived's load-time checks of a script
// (check_script_secure in keepalived/core/notify.c), for the user it will
// run as (User, or this process's user), and resolves its program:
//
//   - A program name without a slash is looked up in PATH: the first
//     regular file the user may execute. Args[0] becomes that path
//     (with a warning: keepalived asks for the full path).
//   - The program must exist, every directory on its way must be
//     searchable by the user, and the file it resolves to must be a
//     regular file the user may execute, judged as keepalived's
//     is_executable does (uid 0 needs any execute bit; otherwise the
//     owner's bit, the group's bit for the primary group, or the others'
//     bit). Unless SymlinkPaths, Path becomes the file the symbolic links
//     lead to, which is what then runs; an untidy Args[0] is cleaned
//     (filepath.Clean, keeping "./" before a relative name).
//   - If the script runs as uid 0 or gid 0, or is set-user-ID root or
//     set-group-ID root, the path as configured and the path resolved are
//     walked from "/": every component must be owned by root, and no
//     directory without the sticky bit, and not the file, may be writable
//     by a group other than gid 0 or by everyone.
//
// err joins a *CheckError for each problem that disables the script:
// ErrNotFound, ErrNotExecutable, and ErrUnsafe when sec.Enabled, as
// keepalived disables such a script ("- disabling"). warning joins the
// problems keepalived reports and still runs the script with: ErrUnsafe
// without sec.Enabled, a program found through PATH, a file without a
// "#!" line (run by /bin/sh). Callers run Check when they load the
// configuration, log warning, and leave out a script whose err is not
// nil. keepalived also reports, once, "SECURITY VIOLATION - scripts are
// being executed but script_security not enabled" when any script is
// configured without sec.Enabled; that is the caller's to say.
//
// Check judges permissions from the mode bits and owners of the files,
// not by switching user: ACLs, capabilities and mount options are not
// seen. It changes Args[0] and Path, so it must not run while the Script
// runs; a *FieldError from Validate comes back as err.
func (s *Script) Check(sec Security) (warning, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	uid, gid, groups := s.identity()
	var warns []error
	viaPath := s.Path == ""
	prog := s.program()
	s.Args = slices.Clone(s.Args)

	name := prog // as configured, for errors
	if !strings.Contains(prog, "/") {
		found, err := findPath(prog, uid, gid, groups)
		if err != nil {
			return nil, &CheckError{Script: name, Reason: err.Error(), Err: errOf(err)}
		}
		warns = append(warns, fmt.Errorf("notify: script %s: resolved by path search to %s; give the full path", name, found))
		prog = found
		if viaPath {
			s.Args[0] = found
		} else {
			s.Path = found
		}
	}

	abs, err := filepath.Abs(prog)
	if err != nil {
		return nil, &CheckError{Script: name, Reason: err.Error(), Err: ErrNotFound}
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, &CheckError{Script: name, Reason: "cannot be accessed: " + reason(err), Err: ErrNotFound}
	}
	for _, p := range uniq(abs, real) {
		if dir, ok := searchable(p, uid, gid, groups); !ok {
			return nil, &CheckError{Script: name, Path: dir,
				Reason: fmt.Sprintf("directory not searchable by uid:gid %d:%d", uid, gid), Err: ErrNotFound}
		}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, &CheckError{Script: name, Path: real, Reason: reason(err), Err: ErrNotFound}
	}
	fuid, fgid := owner(fi)
	if !fi.Mode().IsRegular() {
		return nil, &CheckError{Script: name, Path: real,
			Reason: fmt.Sprintf("not a regular file (mode %v)", fi.Mode()), Err: ErrNotExecutable}
	}
	if !isExecutable(fi.Mode(), fuid, fgid, uid, gid) {
		return nil, &CheckError{Script: name, Path: real,
			Reason: fmt.Sprintf("not executable by uid:gid %d:%d (mode %v, owner %d:%d)", uid, gid, fi.Mode(), fuid, fgid),
			Err:    ErrNotExecutable}
	}

	// keepalived keeps the configured name as argv[0], tidied, and runs
	// the resolved file unless use_symlink_paths.
	argv0 := prog
	if sec.SymlinkPaths || real != prog {
		argv0 = tidy(prog)
		if viaPath {
			s.Args[0] = argv0
		} else {
			s.Path = argv0
		}
	}
	if real != argv0 && !sec.SymlinkPaths {
		s.Path = real
	}

	m := fi.Mode()
	if uid == 0 || gid == 0 ||
		(fuid == 0 && m&0o100 != 0 && m&fs.ModeSetuid != 0) ||
		(fgid == 0 && m&0o010 != 0 && m&fs.ModeSetgid != 0) {
		var unsafe []error
		for _, p := range uniq(absOf(argv0), real) {
			e := checkOwners(name, p)
			if errors.Is(e, ErrNotFound) {
				return errors.Join(warns...), e
			}
			if e != nil {
				unsafe = append(unsafe, e)
			}
		}
		if len(unsafe) > 0 {
			if sec.Enabled {
				return errors.Join(warns...), errors.Join(unsafe...)
			}
			warns = append(warns, unsafe...)
		}
	}
	if !hasInterpreterOrELF(real) {
		warns = append(warns, fmt.Errorf("notify: script %s: no #! line: it runs through /bin/sh; add one", name))
	}
	return errors.Join(warns...), nil
}

// identity is who the script runs as.
func (s *Script) identity() (uid, gid uint32, groups []uint32) {
	if s.User != nil {
		return s.User.UID, s.User.GID, s.User.Groups
	}
	gs, _ := os.Getgroups()
	for _, g := range gs {
		groups = append(groups, uint32(g))
	}
	return uint32(os.Geteuid()), uint32(os.Getegid()), groups
}

// isExecutable is keepalived's is_executable: root needs any execute bit;
// the owner the owner's bit; a user whose primary group owns the file the
// group's bit; anyone else the others' bit. Supplementary groups do not
// count.
func isExecutable(m fs.FileMode, fileUID, fileGID, uid, gid uint32) bool {
	switch {
	case uid == 0:
		return m&0o111 != 0
	case uid == fileUID:
		return m&0o100 != 0
	case gid == fileGID:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// canSearch reports whether uid, with gid and groups, may search the
// directory of mode m owned by dirUID:dirGID, as the kernel judges it
// from mode bits (root may search anything).
func canSearch(m fs.FileMode, dirUID, dirGID, uid, gid uint32, groups []uint32) bool {
	switch {
	case uid == 0:
		return true
	case uid == dirUID:
		return m&0o100 != 0
	case gid == dirGID || slices.Contains(groups, dirGID):
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// searchable checks every directory above the absolute path p; it
// returns the first one the user may not search.
func searchable(p string, uid, gid uint32, groups []uint32) (string, bool) {
	for _, dir := range ancestors(p) {
		fi, err := os.Stat(dir)
		if err != nil {
			return dir, false
		}
		duid, dgid := owner(fi)
		if !canSearch(fi.Mode(), duid, dgid, uid, gid, groups) {
			return dir, false
		}
	}
	return "", true
}

// ancestors are the directories above the absolute path p, from "/".
func ancestors(p string) []string {
	var out []string
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		out = append(out, d)
		if d == "/" || d == "." {
			break
		}
	}
	slices.Reverse(out)
	return out
}

// findPath is keepalived's find_path (after glibc's execvpe): the first
// PATH entry holding a regular file named name that uid:gid may execute.
// An empty entry is the working directory.
func findPath(name string, uid, gid uint32, groups []uint32) (string, error) {
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = defaultPath
	}
	denied := false
	for dir := range strings.SplitSeq(path, ":") {
		cand := name
		if dir != "" {
			cand = strings.TrimSuffix(dir, "/") + "/" + name
			if _, ok := searchable(absOf(cand), uid, gid, groups); !ok {
				continue
			}
		}
		fi, err := os.Stat(cand)
		if err != nil {
			continue
		}
		fuid, fgid := owner(fi)
		if !fi.Mode().IsRegular() || !isExecutable(fi.Mode(), fuid, fgid, uid, gid) {
			denied = true
			continue
		}
		return cand, nil
	}
	if denied {
		return "", &pathError{fmt.Sprintf("found in PATH but not executable by uid:gid %d:%d", uid, gid), ErrNotExecutable}
	}
	return "", &pathError{"not found in PATH " + path, ErrNotFound}
}

type pathError struct {
	reason string
	err    error
}

func (e *pathError) Error() string { return e.reason }
func (e *pathError) Unwrap() error { return e.err }

// errOf is the sentinel err wraps.
func errOf(err error) error {
	if errors.Is(err, ErrNotExecutable) {
		return ErrNotExecutable
	}
	return ErrNotFound
}

// checkOwners is keepalived's check_security: it walks p from "/",
// without following the last symbolic link of each prefix, and returns a
// *CheckError (ErrUnsafe, or ErrNotFound) for the first component that a
// user other than root could change. A symbolic link is judged by its
// owner only, as its mode means nothing; keepalived refuses a symbolic
// link to a directory on the way ("Wrong file type found in script
// path"), vigil checks it like the final one, since the resolved path is
// walked too.
func checkOwners(script, p string) error {
	comps := append(ancestors(p), p)
	for _, c := range comps {
		fi, err := os.Lstat(c)
		if err != nil {
			return &CheckError{Script: script, Path: c, Reason: reason(err), Err: ErrNotFound}
		}
		cuid, cgid := owner(fi)
		m := fi.Mode()
		var why string
		switch {
		case cuid != 0:
			why = fmt.Sprintf("owned by uid %d, not root", cuid)
		case m&fs.ModeSymlink != 0:
		case m.IsDir() && m&fs.ModeSticky != 0:
		case cgid != 0 && m&0o020 != 0:
			why = fmt.Sprintf("writable by group %d (mode %v)", cgid, m)
		case m&0o002 != 0:
			why = fmt.Sprintf("writable by everyone (mode %v)", m)
		}
		if why != "" {
			return &CheckError{Script: script, Path: c, Reason: why, Err: ErrUnsafe}
		}
	}
	return nil
}

// hasInterpreterOrELF reports whether the file at p starts with "#!" or
// an ELF header: whether execve can run it (keepalived asks libmagic
// whether it is an executable). An unreadable file counts as yes.
func hasInterpreterOrELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return true
	}
	defer f.Close()
	var b [4]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && n < 2 {
		return false
	}
	return string(b[:2]) == "#!" || (n == 4 && string(b[:]) == "\x7fELF")
}

// tidy is filepath.Clean, except that a relative path keeps a slash
// ("./s.sh", not "s.sh"), so that it is not taken for a name to look up
// in PATH.
func tidy(p string) string {
	c := filepath.Clean(p)
	if !strings.Contains(c, "/") {
		c = "./" + c
	}
	return c
}

func absOf(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// uniq returns a, and b if it differs.
func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// reason is err's cause without the operation and path that the
// CheckError already names.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
