package process

import (
	"strings"
	"testing"
)

func cmdline(argv ...string) []byte { return []byte(strings.Join(argv, "\x00") + "\x00") }

// TestMatch covers keepalived's matching (read_procs, check_process and
// check_params in keepalived/core/track_process.c).
func TestMatch(t *testing.T) {
	running := func(comm string, argv ...string) procInfo {
		return procInfo{comm: comm, state: 'S', cmdline: cmdline(argv...)}
	}
	nginx := running("nginx", "/usr/sbin/nginx", "-g", "daemon off;")
	for _, tc := range []struct {
		name string
		spec Spec
		p    procInfo
		want bool
	}{
		{"comm", Spec{Process: "nginx"}, nginx, true},
		{"comm is exact, not a prefix", Spec{Process: "ngin"}, nginx, false},
		{"comm ignores argv[0]", Spec{Process: "/usr/sbin/nginx"}, running("nginx", "/usr/sbin/nginx"), false},
		{"comm ignores parameters", Spec{Process: "nginx"}, running("nginx", "nginx", "x"), true},
		{"zombie", Spec{Process: "nginx"}, procInfo{comm: "nginx", state: 'Z'}, false},
		{"dead", Spec{Process: "nginx"}, procInfo{comm: "nginx", state: 'X'}, false},
		{"full command argv[0]", Spec{Process: "/usr/sbin/nginx", FullCommand: true}, nginx, true},
		{"full command is not comm", Spec{Process: "nginx", FullCommand: true}, nginx, false},
		{"full command, any parameters", Spec{Process: "/usr/sbin/nginx", FullCommand: true}, running("x", "/usr/sbin/nginx", "a"), true},
		{"zombie, full command", Spec{Process: "/usr/sbin/nginx", FullCommand: true}, procInfo{comm: "nginx", state: 'Z', cmdline: cmdline("/usr/sbin/nginx")}, false},
		{"argv[0] without NUL", Spec{Process: "/usr/sbin/nginx", FullCommand: true}, procInfo{state: 'S', cmdline: []byte("/usr/sbin/nginx")}, true},
		{"rewritten argv", Spec{Process: "nginx", FullCommand: true}, procInfo{state: 'S', cmdline: []byte("nginx: master process")}, false},

		// Params imply the command line and exact matching.
		{"params exact", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon off;"}}, nginx, true},
		{"params exact, fewer", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g"}}, nginx, false},
		{"params exact, more", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon off;", "x"}}, nginx, false},
		{"params exact, prefix of last", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon"}}, nginx, false},
		{"params, comm name", Spec{Process: "nginx", Params: []string{"-g", "daemon off;"}}, nginx, false},
		// A bare param_match: no parameters allowed.
		{"exact without params: none", Spec{Process: "x", ParamMatch: ParamMatchExact}, running("y", "x"), true},
		{"exact without params: one", Spec{Process: "x", ParamMatch: ParamMatchExact}, running("y", "x", "a"), false},
		{"exact without params: empty one", Spec{Process: "x", ParamMatch: ParamMatchExact}, running("y", "x", ""), false},
		// partial: the first n parameters exactly.
		{"partial", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g"}, ParamMatch: ParamMatchPartial}, nginx, true},
		{"partial, all", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon off;"}, ParamMatch: ParamMatchPartial}, nginx, true},
		{"partial, prefix of last", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon"}, ParamMatch: ParamMatchPartial}, nginx, false},
		{"partial, more than there are", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon off;", "x"}, ParamMatch: ParamMatchPartial}, nginx, false},
		{"partial without params", Spec{Process: "x", ParamMatch: ParamMatchPartial}, running("y", "x", "a"), true},
		// initial: the last one may be longer.
		{"initial, prefix of last", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon"}, ParamMatch: ParamMatchInitial}, nginx, true},
		{"initial, prefix of first", Spec{Process: "/usr/sbin/nginx", Params: []string{"-"}, ParamMatch: ParamMatchInitial}, nginx, true},
		{"initial, not a prefix", Spec{Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon on"}, ParamMatch: ParamMatchInitial}, nginx, false},
		{"initial, earlier one partial", Spec{Process: "/usr/sbin/nginx", Params: []string{"-", "daemon off;"}, ParamMatch: ParamMatchInitial}, nginx, false},
		{"initial, one empty: needs one", Spec{Process: "x", Params: []string{""}, ParamMatch: ParamMatchInitial}, running("y", "x"), false},
		{"initial, one empty: any one", Spec{Process: "x", Params: []string{""}, ParamMatch: ParamMatchInitial}, running("y", "x", "abc"), true},
		{"initial without params", Spec{Process: "x", ParamMatch: ParamMatchInitial}, running("y", "x"), true},
	} {
		if got := compile(tc.spec).match(tc.p); got != tc.want {
			t.Errorf("%s: match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCmdlineNeed(t *testing.T) {
	s := compile(Spec{Process: "/bin/x", Params: []string{"ab", "c"}})
	// "/bin/x\0ab\0c\0" and one more byte.
	if n := s.cmdlineNeed(); n != 7+5+1 {
		t.Errorf("cmdlineNeed %d", n)
	}
	// Truncated to the need, a longer command line still differs.
	long := cmdline("/bin/x", "ab", "c", "d")
	if s.match(procInfo{state: 'S', cmdline: long[:s.cmdlineNeed()]}) {
		t.Error("a truncated longer command line matched exactly")
	}
	if compile(Spec{Process: "x"}).cmdlineNeed() != 0 {
		t.Error("a comm spec needs the command line")
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in    string
		comm  string
		state byte
		ok    bool
	}{
		{"1 (systemd) S 0 1 1", "systemd", 'S', true},
		{"42 (a) b) (c) Z 1 2", "a) b) (c", 'Z', true},
		{"42 () R 1", "", 'R', true},
		{"42 (x)", "", 0, false},
		{"42 (x)R", "", 0, false},
		{"42 x) S", "", 0, false},
		{"", "", 0, false},
	} {
		comm, state, ok := parseStat([]byte(tc.in))
		if comm != tc.comm || state != tc.state || ok != tc.ok {
			t.Errorf("parseStat(%q) = %q %q %v", tc.in, comm, state, ok)
		}
	}
}

func TestBounds(t *testing.T) {
	const inf = int(^uint(0) >> 1)
	for _, tc := range []struct {
		q, qmax, lo, hi int
	}{
		{0, 0, 1, inf},
		{3, 0, 3, inf},
		{2, 5, 2, 5},
		{0, -1, 0, 0},
		{-1, 4, 0, 4},
		{0, 1, 1, 1},
	} {
		lo, hi := (&Spec{Quorum: tc.q, QuorumMax: tc.qmax}).bounds()
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("Quorum %d QuorumMax %d: [%d, %d], want [%d, %d]", tc.q, tc.qmax, lo, hi, tc.lo, tc.hi)
		}
	}
}
