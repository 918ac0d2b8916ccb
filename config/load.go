package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// LoadOptions change how Load maps a tree to a vigil.Config.
type LoadOptions struct {
	// Read are the options LoadFile reads the file with.
	Read Options
	// LookupUser resolves a script's "USER [[:]GROUP]" (script_user,
	// notify_*, the FIFOs' users). Nil means notify.LookupUser.
	LookupUser func(name, group string, supplementary bool) (*notify.User, error)
	// Uptime returns the system's uptime, for vrrp_delay_after_boot. Nil
	// reads /proc/uptime.
	Uptime func() (time.Duration, error)
}

func (o LoadOptions) lookupUser(name, group string, supp bool) (*notify.User, error) {
	if o.LookupUser != nil {
		return o.LookupUser(name, group, supp)
	}
	return notify.LookupUser(name, group, supp)
}

// LoadFile reads the configuration file name (ReadFile with opts.Read)
// and maps it with Load. It returns the warnings apart, and as error an
// ErrorList of the other problems (reading, keywords and
// vigil.Config.Validate's), or nil. The Config is what could be mapped
// even when error is not nil.
func LoadFile(name string, opts LoadOptions) (vigil.Config, []*Error, error) {
	cfg, warns, _, err := loadFile(name, opts, false)
	return cfg, warns, err
}

// loadFile is LoadFile. With lockstep, Read waits for each top-level
// statement to be mapped before it goes on (so that every arena the
// loader can give back is reused: for tests); it also returns how many
// statements were built in a reused arena.
func loadFile(name string, opts LoadOptions, lockstep bool) (vigil.Config, []*Error, int, error) {
	// Each top-level statement is mapped as soon as Read completes it, so
	// the whole tree is never held: a file of 30,000 real servers peaks
	// at the Config, not at the Config and its tree.
	l := newLoader(opts)
	tl := l.startTop()
	t := &Tree{}
	// Reading and mapping overlap: the loader maps one top-level
	// statement on its own goroutine while Read builds the next (they
	// share nothing but the statements handed over). A statement the
	// loader is done with gives its arrays back for the next ones.
	type item struct {
		s *Statement
		a *treeArena
	}
	stmts := make(chan item, 16)
	free := make(chan *treeArena, cap(stmts)+2)
	done := make(chan struct{}) // lockstep: a statement was mapped
	mapped := make(chan struct{})
	go func() {
		defer close(mapped)
		for it := range stmts {
			if tl.statement(it.s) {
				select {
				case free <- it.a:
				default:
				}
			}
			if lockstep {
				done <- struct{}{}
			}
		}
	}()
	reused := 0
	tr, err := readFileStream(name, opts.Read, t, &stream{
		emit: func(s *Statement, a *treeArena) {
			stmts <- item{s, a}
			if lockstep {
				<-done
			}
		},
		reuse: func() *treeArena {
			select {
			case a := <-free:
				reused++
				return a
			default:
				return nil
			}
		},
	})
	close(stmts)
	<-mapped
	var errs ErrorList
	if tr == nil {
		return vigil.Config{}, nil, reused, err // the name could not be made absolute
	}
	if err != nil {
		var rl ErrorList
		if !errors.As(err, &rl) {
			return vigil.Config{}, nil, reused, err
		}
		errs = append(errs, rl...)
	}
	tl.finish()
	warns := append([]*Error(nil), t.Warnings...)
	for _, e := range l.errs {
		if e.Severity == SeverityWarning {
			warns = append(warns, e)
		} else {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return l.cfg, warns, reused, nil
	}
	return l.cfg, warns, reused, errs
}

// Load maps the keywords of t to a vigil.Config, as keepalived's
// keyword tree does (see the package doc for what is mapped), and then
// runs cfg.Validate. It returns every problem in the order found, each
// at its statement's position: warnings (unknown keywords, keywords
// vigil ignores, keepalived's own warnings), errors (a wrong argument:
// the statement is ignored, as keepalived does), fatal errors (what
// keepalived cannot run, and what Validate rejects, placed at the
// object's statement). t.Warnings are not repeated.
func Load(t *Tree, opts LoadOptions) (vigil.Config, ErrorList) {
	l := newLoader(opts)
	l.load(t.Statements)
	return l.cfg, l.errs
}

func newLoader(opts LoadOptions) *loader {
	return &loader{opts: opts, trackers: map[string]*trackerDef{}, objPos: map[string]Pos{}}
}

type trackerKind int

const (
	kindScript trackerKind = iota + 1
	kindFile
	kindProcess
)

func (k trackerKind) String() string {
	switch k {
	case kindScript:
		return "vrrp_script"
	case kindFile:
		return "track_file"
	}
	return "vrrp_track_process"
}

type trackerDef struct {
	kind trackerKind
	pos  Pos
	t    vigil.Tracker
	used bool
}

type loader struct {
	opts     LoadOptions
	cfg      vigil.Config
	errs     ErrorList
	trackers map[string]*trackerDef
	order    []string
	objPos   map[string]Pos // Validate's Object → statement
	version  vrrp.Version   // vrrp_version
	garpSet  bool           // a global vrrp_garp_* was given
	supp     bool           // set_supplementary_groups
	defIface string         // default_interface
	x        extState       // see load_global.go
	d        daemonState    // see load_daemon.go
	free     vsFree         // see load_vs_free.go
	bgp      bgpState       // see load_bgp.go
	// seen, set by tests only, is told the status of every keyword
	// read: block is its blockPath.
	seen func(block, keyword string, status kwStatus, reason string)
	cur  kwNote // the status of the statement being handled
}

func (l *loader) add(p Pos, sev Severity, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: p, Severity: sev, Msg: fmt.Sprintf(format, args...)})
}
func (l *loader) warnf(p Pos, format string, args ...any) {
	l.add(p, SeverityWarning, format, args...)
}
func (l *loader) errorf(p Pos, format string, args ...any) {
	l.add(p, SeverityError, format, args...)
}
func (l *loader) fatalf(p Pos, format string, args ...any) {
	l.add(p, SeverityFatal, format, args...)
}

// handler maps one statement of a block.
type handler func(s *Statement)

// block dispatches the statements of a block to its handlers. ignored
// are keywords known to keepalived that this layer does not map, with
// the reason; anything else is unknown.
func (l *loader) block(what string, stmts []Statement, hs map[string]handler, ignored map[string]string) {
	blockWith(l, func() string { return what }, stmts, hs, ignored, callHandler)
}

func callHandler(h handler, s *Statement) { h(s) }

func topLevel() string { return "top level" }

// kwFunc maps one statement of a block into d, the definition the
// block is read into.
type kwFunc[D any] func(l *loader, d D, s *Statement)

// kwTable are the handlers of a block's keywords, built once (see
// load_vs.go): unlike handler closures, they cost nothing per block.
type kwTable[D any] map[string]kwFunc[D]

// readBlock is block with a kwTable: it reads stmts into d. what
// describes the block as block's what does, and is called only for a
// diagnostic.
func readBlock[D any](l *loader, what func() string, stmts []Statement, hs kwTable[D], d D, ignored map[string]string) {
	blockWith(l, what, stmts, hs, ignored, func(h kwFunc[D], s *Statement) { h(l, d, s) })
}

// blockWith is block for handlers of type H, which call runs.
func blockWith[H any](l *loader, what func() string, stmts []Statement, hs map[string]H, ignored map[string]string, call func(H, *Statement)) {
	path := ""
	if l.seen != nil {
		path = blockPath(what())
	}
	for i := range stmts {
		statementWith(l, what, path, &stmts[i], hs, ignored, call)
	}
}

// statementWith dispatches s, a statement of the block what (whose
// keyword path is path, "" without the seen hook), as blockWith does.
func statementWith[H any](l *loader, what func() string, path string, s *Statement, hs map[string]H, ignored map[string]string, call func(H, *Statement)) {
	if len(s.Words) == 0 {
		return
	}
	kw := s.Words[0]
	if h, ok := hs[kw]; ok {
		prev := l.cur
		l.cur = kwNote{st: kwSupported}
		call(h, s)
		l.note(path, kw, l.cur.st, l.cur.why)
		l.cur = prev
		return
	}
	if why, ok := ignored[kw]; ok {
		l.warnf(s.Pos, "%s: %s ignored: %s", what(), kw, why)
		l.note(path, kw, kwIgnored, why)
		return
	}
	l.note(path, kw, kwUnknown, "")
	msg := fmt.Sprintf("%s: unknown keyword %q ignored", what(), kw)
	if s.HasBlock {
		msg += " with its block"
	}
	names := make([]string, 0, len(hs)+len(ignored))
	for k := range hs {
		names = append(names, k)
	}
	for k := range ignored {
		names = append(names, k)
	}
	if m := closest(kw, names); m != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", m)
	}
	l.warnf(s.Pos, "%s", msg)
}

// closest returns the name within edit distance 2 of w, if any.
func closest(w string, names []string) string {
	sort.Strings(names)
	best, bd := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(w), n); d < bd {
			best, bd = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// args checks that s has between lo and hi arguments (hi < 0: any) and
// no block: a missing argument is fatal (keepalived exits), extra ones
// an error (ignored), a block an error (ignored).
func (l *loader) args(s *Statement, lo, hi int) bool {
	if s.HasBlock {
		l.errorf(s.Open, "%s takes no block: block ignored", s.Words[0])
	}
	return l.count(s, lo, hi)
}

// count checks that s has between lo and hi arguments (hi < 0: any).
func (l *loader) count(s *Statement, lo, hi int) bool {
	n := len(s.Words) - 1
	if n < lo {
		l.fatalf(s.Pos, "%s: missing argument", s.Words[0])
		return false
	}
	if hi >= 0 && n > hi {
		if secretKeywords[s.Words[0]] {
			// A secret with a space in it: the extra word is part of it,
			// and the message goes to logs.
			l.errorf(s.WordPos(hi+1), "%s: extra argument ignored (not shown: part of a secret)", s.Words[0])
		} else {
			l.errorf(s.WordPos(hi+1), "%s: extra argument %q ignored", s.Words[0], s.Words[hi+1])
		}
	}
	return true
}

// secretKeywords are the keywords whose argument is a secret: a message
// about them never quotes their words (vrrp_instance's auth_pass, a BGP
// peer's and an SSL block's password).
var secretKeywords = map[string]bool{"auth_pass": true, "password": true}

// needBlock checks that s has a block (and lo..hi arguments).
func (l *loader) needBlock(s *Statement, lo, hi int) bool {
	if !l.count(s, lo, hi) {
		return false
	}
	if !s.HasBlock {
		l.errorf(s.Pos, "%s: missing '{'", s.Words[0])
		return false
	}
	return true
}

// intArg parses word i of s as an integer in lo..hi.
func (l *loader) intArg(s *Statement, i, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s.Words[i])
	if err != nil || n < lo || n > hi {
		l.errorf(s.WordPos(i), "%s: invalid number %q (%d..%d): ignored", s.Words[0], s.Words[i], lo, hi)
		return 0, false
	}
	return n, true
}

// secsArg parses word i of s as seconds (decimals allowed) in lo..hi,
// rounded to res.
func (l *loader) secsArg(s *Statement, i int, lo, hi float64, res time.Duration) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s.Words[i], 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		l.errorf(s.WordPos(i), "%s: invalid time %q (%g..%g seconds): ignored", s.Words[0], s.Words[i], lo, hi)
		return 0, false
	}
	d := time.Duration(math.Round(f * float64(time.Second) / float64(res)))
	return d * res, true
}

// boolArg parses keepalived's optional [BOOL]: none is true.
func (l *loader) boolArg(s *Statement) (bool, bool) {
	if !l.args(s, 0, 1) {
		return false, false
	}
	if len(s.Words) == 1 {
		return true, true
	}
	switch strings.ToLower(s.Words[1]) {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	l.errorf(s.WordPos(1), "%s: %q is not true/on/yes or false/off/no: ignored", s.Words[0], s.Words[1])
	return false, false
}

// addr parses word i of s as an IP address.
func (l *loader) addr(s *Statement, i int) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s.Words[i])
	if err != nil || a.Zone() != "" {
		l.errorf(s.WordPos(i), "%s: invalid IP address %q: ignored", s.Words[0], s.Words[i])
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// prefix parses word i of s as IP[/PREFIX] (a whole address by default).
func (l *loader) prefix(s *Statement, i int) (netip.Prefix, bool) {
	w := s.Words[i]
	if !strings.Contains(w, "/") {
		a, err := netip.ParseAddr(w)
		if err == nil && a.Zone() == "" {
			a = a.Unmap()
			return netip.PrefixFrom(a, a.BitLen()), true
		}
	} else if p, err := netip.ParsePrefix(w); err == nil {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), true
	}
	l.errorf(s.WordPos(i), "invalid address %q: ignored", w)
	return netip.Prefix{}, false
}

// user resolves "USER [[:]GROUP]" from words.
func (l *loader) user(p Pos, words []string) (*notify.User, bool) {
	group := ""
	if len(words) > 1 {
		group = words[1]
	}
	u, err := l.opts.lookupUser(words[0], group, l.supp)
	if err != nil {
		l.errorf(p, "user %s: %v", strings.Join(words, " "), err)
		return nil, false
	}
	return u, true
}

// script maps a script keyword: "KEYWORD COMMAND [USER [[:]GROUP]]",
// COMMAND split again into the program and its arguments, both with
// SplitQuoted as keepalived does.
func (l *loader) script(s *Statement) (*notify.Script, bool) {
	return l.scriptWords(s, true)
}

// scriptWords is script; without withUser, the words after COMMAND
// are ignored with a warning (vrrp_script's script).
func (l *loader) scriptWords(s *Statement, withUser bool) (*notify.Script, bool) {
	if s.HasBlock {
		l.errorf(s.Open, "%s takes no block: block ignored", s.Words[0])
	}
	w, err := SplitQuoted(s.Line, false)
	if err != nil {
		l.errorf(s.Pos, "%s: %v: ignored", s.Words[0], unwrapMsg(err))
		return nil, false
	}
	if len(w) < 2 {
		l.fatalf(s.Pos, "%s: missing script", s.Words[0])
		return nil, false
	}
	argv, err := SplitQuoted(w[1], true)
	if err != nil || len(argv) == 0 {
		l.errorf(s.WordPos(1), "%s: invalid script %q: ignored", s.Words[0], w[1])
		return nil, false
	}
	sc := &notify.Script{Args: argv}
	if len(w) > 2 && !withUser {
		l.warnf(s.Pos, "%s: words after the command are ignored: %q", s.Words[0], w[2:])
	} else if len(w) > 2 {
		if len(w) > 4 {
			l.errorf(s.Pos, "%s: extra words after USER GROUP: %q ignored", s.Words[0], w[4:])
			w = w[:4]
		}
		u, ok := l.user(s.Pos, w[2:])
		if !ok {
			return nil, false
		}
		sc.User = u
	}
	return sc, true
}

func unwrapMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "config: ")
}

// load walks the top level.
func (l *loader) load(stmts []Statement) {
	tl := l.startTop()
	for i := range stmts {
		tl.statement(&stmts[i])
	}
	tl.finish()
}

// topLoader maps the top level one statement at a time, so that LoadFile
// can map statements as Read completes them (readStream) and never hold
// the whole tree.
type topLoader struct {
	l      *loader
	top    map[string]handler
	ign    map[string]string
	global bool         // a global_defs was seen
	early  []*Statement // statements before the first global_defs
	groups []*Statement // vrrp_sync_groups, mapped at the end
}

func (l *loader) startTop() *topLoader {
	l.version = vrrp.V2
	l.defIface = "eth0"
	tl := &topLoader{l: l}
	vl := newVSLoader(l)
	tl.top = map[string]handler{
		"global_defs":        func(*Statement) {},
		"vrrp_script":        l.vrrpScript,
		"track_file":         l.trackFile,
		"vrrp_track_file":    l.trackFile,
		"vrrp_track_process": l.trackProcess,
		"vrrp_instance":      l.instance,
		"vrrp_sync_group":    func(s *Statement) { tl.groups = append(tl.groups, s) },
		"static_ipaddress":   l.staticAddresses,
		// The check side (load_vs.go).
		"virtual_server":       vl.virtualServer,
		"virtual_server_group": vl.group,
		"SSL":                  vl.sslBlock,
	}
	tl.ign = map[string]string{}
	l.topExtra(tl.top, tl.ign)
	return tl
}

// statement maps one top-level statement. global_defs goes first, as
// keepalived reads it before the rest matters (vrrp_version,
// script_user): what comes before the first global_defs waits for it
// (or for the end); a later global_defs applies from where it is.
//
// It reports whether s is mapped and nothing refers to it or its block
// any more (a virtual_server: its loader keeps copies of what it needs),
// so that its arrays may carry the next statements.
func (tl *topLoader) statement(s *Statement) bool {
	l := tl.l
	if len(s.Words) > 0 && s.Words[0] == "global_defs" {
		l.globalDefs(s)
		tl.global = true
		tl.one(s)
		for _, e := range tl.early {
			tl.one(e)
		}
		tl.early = nil
		return false
	}
	if !tl.global {
		tl.early = append(tl.early, s)
		return false
	}
	tl.one(s)
	return s.Words[0] == "virtual_server"
}

func (tl *topLoader) one(s *Statement) {
	statementWith(tl.l, topLevel, "top", s, tl.top, tl.ign, callHandler)
}

// finish maps what waited and ends the mapping: sync groups, unused
// vrrp_scripts, Validate.
func (tl *topLoader) finish() {
	l := tl.l
	for _, e := range tl.early {
		tl.one(e)
	}
	tl.early = nil
	// Sync groups name instances defined anywhere (keepalived resolves
	// them after parsing).
	for _, s := range tl.groups {
		l.syncGroup(s)
	}
	l.finishBGP() // before the drop: a vip may track a vrrp_script
	// keepalived drops a vrrp_script nothing tracks.
	for _, name := range l.order {
		d := l.trackers[name]
		if d.kind == kindScript && !d.used {
			l.warnf(d.pos, "vrrp_script %s is not used: ignored", name)
			continue
		}
		l.objPos[fmt.Sprintf("tracker #%d", len(l.cfg.Trackers))] = d.pos
		l.cfg.Trackers = append(l.cfg.Trackers, d.t)
	}
	l.resolveSyncDaemon()
	l.validate()
}

// validate runs vigil.Config.Validate and places its errors at the
// statement of the object they name.
func (l *loader) validate() {
	err := l.cfg.Validate()
	if err == nil {
		return
	}
	for _, e := range flattenErr(err) {
		var fe *vigil.FieldError
		p := Pos{}
		if errors.As(e, &fe) {
			p = l.objPos[fe.Object]
		}
		l.fatalf(p, "%s", strings.TrimPrefix(e.Error(), "vigil: "))
	}
}

func flattenErr(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErr(e)...)
		}
		return out
	}
	return []error{err}
}

// staticAddresses maps static_ipaddress: "IP[/P] [dev IF] [label L]".
func (l *loader) staticAddresses(s *Statement) {
	if !l.needBlock(s, 0, 0) {
		return
	}
	for i := range s.Block {
		e := &s.Block[i]
		p, ok := l.prefix(e, 0)
		if !ok {
			continue
		}
		a := vigil.StaticAddress{Interface: l.defIface, Prefix: p}
		a.Options = l.addrOptions(e, "static_ipaddress", func(opt string, j int) {
			if opt == "dev" {
				a.Interface = e.Words[j]
			} else {
				a.Label = e.Words[j]
			}
		})
		l.objPos[fmt.Sprintf("static address #%d", len(l.cfg.Static.Addresses))] = e.Pos
		l.cfg.Static.Addresses = append(l.cfg.Static.Addresses, a)
	}
}

// addrOptions reads the options of an address entry e of the block at
// path: set is called with "dev" or "label" and the index of its
// argument; the other options are returned (see ipOption).
func (l *loader) addrOptions(e *Statement, path string, set func(opt string, j int)) netlink.AddrOptions {
	var o netlink.AddrOptions
	p, _ := netip.ParsePrefix(e.Words[0])
	if a, err := netip.ParseAddr(e.Words[0]); err == nil {
		p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
	for j := 1; j < len(e.Words); j++ {
		switch w := e.Words[j]; w {
		case "dev", "label":
			l.note(path, w, kwSupported, "")
			if j+1 >= len(e.Words) {
				l.errorf(e.WordPos(j), "%s: missing argument", w)
				continue
			}
			j++
			set(w, j)
		default:
			j = l.ipOption(e, path, j, p, &o)
		}
	}
	return o
}
