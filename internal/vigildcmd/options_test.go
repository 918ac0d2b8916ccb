package vigildcmd

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	def := func(f func(o *Options)) Options {
		o := Options{ConfigFile: DefaultConfigFile, ControlSocket: DefaultControlSocket,
			ProcessModel: ModelSingle, ChildDeadline: DefaultChildDeadline}
		if f != nil {
			f(&o)
		}
		return o
	}
	tests := []struct {
		args []string
		want Options
	}{
		{nil, def(nil)},
		{[]string{"-f", "/x.conf"}, def(func(o *Options) { o.ConfigFile = "/x.conf" })},
		{[]string{"-f/x.conf"}, def(func(o *Options) { o.ConfigFile = "/x.conf" })},
		{[]string{"--use-file=/x.conf"}, def(func(o *Options) { o.ConfigFile = "/x.conf" })},
		{[]string{"--use-file", "/x.conf"}, def(func(o *Options) { o.ConfigFile = "/x.conf" })},
		{[]string{"--use", "/x.conf"}, def(func(o *Options) { o.ConfigFile = "/x.conf" })}, // a prefix, as getopt_long
		{[]string{"-nlD"}, def(func(o *Options) { o.DontFork, o.LogConsole, o.LogDetail = true, true, 1 })},
		{[]string{"--dont-fork", "--log-console", "-D", "--log-detail"}, def(func(o *Options) { o.DontFork, o.LogConsole, o.LogDetail = true, true, 2 })},
		{[]string{"-S", "local3"}, def(func(o *Options) { o.LogFacility = "local3" })},
		{[]string{"--log-facility=daemon"}, def(func(o *Options) { o.LogFacility = "daemon" })},
		{[]string{"-S7"}, def(func(o *Options) { o.LogFacility = "7" })},
		{[]string{"-S", "local9"}, def(func(o *Options) { o.Warnings = []string{"Invalid log facility 'local9'"} })},
		{[]string{"-P"}, def(func(o *Options) { o.VRRPOnly = true })},
		{[]string{"--check"}, def(func(o *Options) { o.CheckOnly = true })},
		{[]string{"-p", "/a.pid", "-r/b.pid", "--checkers_pid=/c.pid"}, def(func(o *Options) { o.PidFile, o.VRRPPidFile, o.CheckersPidFile = "/a.pid", "/b.pid", "/c.pid" })},
		{[]string{"--pid", "/a.pid", "--vrrp_pid", "/b.pid", "-c", "/c.pid"}, def(func(o *Options) { o.PidFile, o.VRRPPidFile, o.CheckersPidFile = "/a.pid", "/b.pid", "/c.pid" })},
		{[]string{"-t"}, def(func(o *Options) { o.ConfigTest = true })},
		{[]string{"-t/tmp/log"}, def(func(o *Options) { o.ConfigTest, o.ConfigTestFile = true, "/tmp/log" })},
		{[]string{"--config-test=/tmp/log"}, def(func(o *Options) { o.ConfigTest, o.ConfigTestFile = true, "/tmp/log" })},
		{[]string{"-tf"}, def(func(o *Options) { o.ConfigTest, o.ConfigTestFile = true, "f" })}, // -t's argument is attached, as getopt's
		{[]string{"-t", "-f", "/x.conf"}, def(func(o *Options) { o.ConfigTest, o.ConfigFile = true, "/x.conf" })},
		{[]string{"--namespace", "blue"}, def(func(o *Options) { o.Namespace = "blue" })},
		{[]string{"-s", "blue"}, def(func(o *Options) { o.Namespace = "blue" })},
		{[]string{"-i", "main"}, def(func(o *Options) { o.ConfigID, o.ConfigIDSet = "main", true })},
		{[]string{"--config-id=main"}, def(func(o *Options) { o.ConfigID, o.ConfigIDSet = "main", true })},
		{[]string{"-d"}, def(func(o *Options) { o.DumpConf = true })},
		{[]string{"--dump-conf"}, def(func(o *Options) { o.DumpConf = true })},
		{[]string{"-e", "-I", "--ignore-sigint"}, def(func(o *Options) { o.AllConfig, o.DontReleaseIPVS, o.IgnoreSIGINT = true, true, true })},
		{[]string{"-G", "-B", "--no-syslog", "--no_bfd"}, def(nil)},
		{[]string{"-R"}, def(func(o *Options) { o.DontRespawn = true })},
		{[]string{"--dont-respawn"}, def(func(o *Options) { o.DontRespawn = true })},
		{[]string{"--all"}, def(func(o *Options) { o.All = true })},
		{[]string{"--process-model=keepalived", "--child-deadline", "500ms"}, def(func(o *Options) { o.ProcessModel, o.ChildDeadline = ModelKeepalived, 500*time.Millisecond })},
		{[]string{"--process-model", "single"}, def(nil)},
		{[]string{"--child=checker"}, def(func(o *Options) { o.Child, o.CheckOnly = "checker", true })},
		{[]string{"-v"}, def(func(o *Options) { o.Version = true })},
		{[]string{"--version"}, def(func(o *Options) { o.Version = true })},
		{[]string{"-h"}, def(func(o *Options) { o.Help = true })},
		{[]string{"--help"}, def(func(o *Options) { o.Help = true })},
		{[]string{"--signum=RELOAD"}, def(func(o *Options) { o.Signum = "RELOAD" })},
		{[]string{"--metrics-address", ":9650"}, def(func(o *Options) { o.MetricsAddress = ":9650" })},
		{[]string{"--control-socket=/s"}, def(func(o *Options) { o.ControlSocket = "/s" })},
		{[]string{"--", "-x"}, Options{}}, // an argument, refused below
		{[]string{"status"}, def(func(o *Options) { o.Command = "status" })},
		{[]string{"status", "--json", "--control-socket", "/s"}, def(func(o *Options) { o.Command, o.JSON, o.ControlSocket = "status", true, "/s" })},
		{[]string{"reload"}, def(func(o *Options) { o.Command = "reload" })},
		{[]string{"dump"}, def(func(o *Options) { o.Command = "dump" })},
	}
	for _, tt := range tests {
		got, err := Parse(tt.args)
		if tt.want.ConfigFile == "" {
			if err == nil {
				t.Errorf("Parse(%q) = nil error, want one", tt.args)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tt.args, got, tt.want)
		}
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-q"}, []string{"Unknown option -q"}},
		{[]string{"--frobnicate"}, []string{"Unknown option --frobnicate"}},
		{[]string{"-f"}, []string{"Missing parameter for option -f"}},
		{[]string{"--use-file"}, []string{"Missing parameter for option --use-file"}},
		{[]string{"--use-file="}, []string{"Missing parameter for option --use-file"}},
		{[]string{"--dont-fork=yes"}, []string{"Option --dont-fork takes no parameter"}},
		{[]string{"--c"}, []string{"Option --c is ambiguous"}},
		{[]string{"-X"}, []string{"not supported by vigild: -X/--release-vips"}},
		{[]string{"--dont-release-vrrp"}, []string{"not supported by vigild: -V/--dont-release-vrrp"}},
		{[]string{"-x", "-A", "/sock"}, []string{"not supported by vigild: -x/--snmp", "not supported by vigild: -A/--snmp-agent-socket"}},
		{[]string{"-g"}, []string{"not supported by vigild: -g/--log-file"}},
		{[]string{"-u", "022"}, []string{"not supported by vigild: -u/--umask"}},
		{[]string{"-T"}, []string{"not supported by vigild: -T/--genhash"}},
		{[]string{"--perf=run"}, []string{"not supported by vigild: --perf"}},
		{[]string{"-b", "/bfd.pid"}, []string{"not supported by vigild: -b/--bfd_pid"}},
		{[]string{"-m", "-M"}, []string{"not supported by vigild: -m/--core-dump", "not supported by vigild: -M/--core-dump-pattern"}},
		{[]string{"stauts"}, []string{"Unexpected argument(s): stauts"}},
		{[]string{"-t", "/x.conf"}, []string{"Unexpected argument(s): /x.conf"}}, // -t FILE: -t's argument is only attached
		{[]string{"status", "status"}, []string{"Unexpected argument(s): status"}},
		{[]string{"status", "-f", "/x"}, []string{"Unknown option -f", "Unexpected argument(s): /x"}},
		{[]string{"-q", "-f", "--zz"}, []string{"Unknown option -q"}}, // -f takes --zz as its file, as getopt
		{[]string{"--process-model=split"}, []string{`--process-model: "split", want single or keepalived`}},
		{[]string{"--child-deadline=1ns", "--child-deadline=x"}, []string{`--child-deadline: "1ns"`, `--child-deadline: "x"`}},
		{[]string{"--child=bfd"}, []string{`--child: "bfd", want vrrp or checker`}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.args)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v, want a *UsageError", tt.args, err)
			continue
		}
		if len(ue.Problems) != len(tt.want) {
			t.Errorf("Parse(%q) problems %q, want %d like %q", tt.args, ue.Problems, len(tt.want), tt.want)
			continue
		}
		for i, w := range tt.want {
			if !strings.HasPrefix(ue.Problems[i], w) {
				t.Errorf("Parse(%q) problem %d = %q, want it to start with %q", tt.args, i, ue.Problems[i], w)
			}
		}
	}
}

func TestMainExitStatus(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"-X"}, ExitFatal, "", "not supported by vigild: -X/--release-vips"},
		{[]string{"--bogus"}, ExitFatal, "", "Unknown option --bogus"},
		{[]string{"-h"}, ExitOK, "", "Usage: vigild"},
		{[]string{"status", "-h"}, ExitOK, "", "Usage: vigild status"},
		{[]string{"-v"}, ExitOK, "", "vigild "},
		{[]string{"--signum=RELOAD"}, ExitOK, "1\n", ""},
		{[]string{"--signum=STOP"}, ExitOK, "15\n", ""},
		{[]string{"--signum=DATA"}, ExitOK, "10\n", ""},
		{[]string{"--signum=STATS"}, ExitOK, "12\n", ""},
		{[]string{"--signum=JSON"}, ExitOK, "36\n", ""},
		{[]string{"--signum=STATS_CLEAR"}, ExitFatal, "", "not supported by vigild: --signum=STATS_CLEAR"},
		{[]string{"--signum=FOO"}, ExitFatal, "", "Unknown sigfunc FOO"},
		{[]string{"status", "--control-socket", "none"}, ExitFatal, "", "no control socket"},
		{[]string{"reload", "--json", "--control-socket", "/nonexistent/s"}, ExitFatal, "", "--json is for status"},
		{[]string{"status", "--control-socket", "/nonexistent/s"}, ExitFatal, "", "is vigild running?"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Main(tt.args, Env{Stdout: &out, Stderr: &errb})
		if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out.String(), errb.String(), tt.code, tt.stdout, tt.stderr)
		}
	}
}
