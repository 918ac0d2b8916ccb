package config

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-ha/vigil"
)

// TestLoadDaemon: the keywords of load_daemon.go, keyword → field, and
// a bad argument → an error at its word.
func TestLoadDaemon(t *testing.T) {
	script := func(get func(g *vigil.Global) string) func(c *vigil.Config) string {
		return func(c *vigil.Config) string { return get(&c.Global) }
	}
	startup := func(args []string, to time.Duration) func(c *vigil.Config) string {
		return script(func(g *vigil.Global) string {
			sc := g.StartupScript
			if sc == nil {
				return "no StartupScript"
			}
			if !slices.Equal(sc.Args, args) || sc.Timeout != to {
				return fmt.Sprintf("StartupScript %q timeout %v, want %q %v", sc.Args, sc.Timeout, args, to)
			}
			return ""
		})
	}
	// tf is a track_file with line 3 given.
	tf := func(line string) string { return "track_file F {\n file /f\n" + line + "\n}\n" }
	initFile := func(want *vigil.FileInit) func(c *vigil.Config) string {
		return func(c *vigil.Config) string {
			if len(c.Trackers) != 1 || c.Trackers[0].File == nil {
				return fmt.Sprintf("trackers %+v", c.Trackers)
			}
			got := c.Trackers[0].File.Init
			if (got == nil) != (want == nil) || got != nil && *got != *want {
				return fmt.Sprintf("Init %+v, want %+v", got, want)
			}
			return ""
		}
	}
	// logVS has a checker with log_all_failures, one with it off.
	logVS := vsConf("", " TCP_CHECK {\n log_all_failures\n }\n TCP_CHECK {\n log_all_failures off\n }\n")
	logAll := func(want ...bool) func(c *vigil.Config) string {
		return func(c *vigil.Config) string {
			if len(c.VirtualServers) != 1 || len(c.VirtualServers[0].RealServers) != 1 {
				return "want one real server"
			}
			var got []bool
			for _, ch := range c.VirtualServers[0].RealServers[0].Checks {
				got = append(got, ch.Policy.LogFailures)
			}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("LogFailures %v, want %v", got, want)
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, text string
		want       func(c *vigil.Config) string // "" if right
		errs       []wantErr
	}{
		{"startup_script: default timeout", "global_defs {\n startup_script \"/bin/s a\"\n}\n", startup([]string{"/bin/s", "a"}, 10*time.Second), nil},
		{"startup_script: timeout after", "global_defs {\n startup_script /bin/s\n startup_script_timeout 3\n}\n", startup([]string{"/bin/s"}, 3*time.Second), nil},
		{"startup_script: timeout before", "global_defs {\n startup_script_timeout 1000\n startup_script /bin/s\n}\n", startup([]string{"/bin/s"}, 1000*time.Second), nil},
		{"startup_script: user", "global_defs {\n startup_script /bin/s nobody\n}\n", script(func(g *vigil.Global) string {
			return wantEq(g.StartupScript.User != nil && g.StartupScript.User.UID == 1000, true)
		}), nil},
		{"startup_script: twice", "global_defs {\n startup_script /bin/s\n startup_script /bin/t\n}\n", startup([]string{"/bin/s"}, 10*time.Second),
			[]wantErr{{"already specified", 3, 2}}},
		{"startup_script_timeout: 0", "global_defs {\n startup_script /bin/s\n startup_script_timeout 0\n}\n", startup([]string{"/bin/s"}, 10*time.Second),
			[]wantErr{{"invalid number", 3, 25}}},
		{"startup_script_timeout: 1001", "global_defs {\n startup_script_timeout 1001\n}\n", nil, []wantErr{{"invalid number", 2, 25}}},
		{"shutdown_script", "global_defs {\n shutdown_script /bin/s\n shutdown_script_timeout 7\n}\n", script(func(g *vigil.Global) string {
			if g.StartupScript != nil || g.ShutdownScript == nil {
				return "want only ShutdownScript"
			}
			return wantEq(g.ShutdownScript.Timeout, 7*time.Second)
		}), nil},
		{"shutdown_script_timeout: x", "global_defs {\n shutdown_script_timeout x\n}\n", nil, []wantErr{{"invalid number", 2, 26}}},
		{"shutdown_script: missing", "global_defs {\n shutdown_script\n}\n", nil, []wantErr{{"missing", 2, 2}}},
		{"init_file", tf(" init_file"), initFile(&vigil.FileInit{}), nil},
		{"init_file VALUE overwrite", tf(" init_file -7 overwrite"), initFile(&vigil.FileInit{Value: -7, Overwrite: true}), nil},
		{"init_file overwrite VALUE", tf(" init_file overwrite 254"), initFile(&vigil.FileInit{Value: 254, Overwrite: true}), nil},
		{"init_file: none", tf(""), initFile(nil), nil},
		{"init_file: bad value", tf(" init_file 5x"), initFile(&vigil.FileInit{}), []wantErr{{"invalid value", 3, 12}}},
		{"init_file: out of range", tf(" init_file 255"), initFile(&vigil.FileInit{Value: 255}), []wantErr{{"outside -254..254", 3, 12}}},
		{"init_file: unknown option", tf(" init_file 1 always"), initFile(&vigil.FileInit{Value: 1}), []wantErr{{"unknown option", 3, 14}}},
		{"init_file: the last value wins", tf(" init_file 1 overwrite 2"), initFile(&vigil.FileInit{Value: 2, Overwrite: true}), nil},
		{"checker_log_all_failures", "global_defs {\n checker_log_all_failures\n}\n" + logVS, logAll(true, true), nil},
		{"checker_log_all_failures off", "global_defs {\n checker_log_all_failures off\n}\n" + logVS, logAll(true, false), nil},
		{"checker_log_all_failures: none", logVS, logAll(true, false), nil},
		{"checker_log_all_failures: bad", "global_defs {\n checker_log_all_failures maybe\n}\n" + logVS, logAll(true, false),
			[]wantErr{{"is not true/on/yes", 2, 27}}},
		{"rs_init_notifies", "global_defs {\n rs_init_notifies\n}\n", script(func(g *vigil.Global) string { return wantEq(g.RSInitNotifies, true) }), nil},
		{"rs_init_notifies no", "global_defs {\n rs_init_notifies no\n}\n", script(func(g *vigil.Global) string { return wantEq(g.RSInitNotifies, false) }), nil},
		{"rs_init_notifies: bad", "global_defs {\n rs_init_notifies 2\n}\n", nil, []wantErr{{"is not true/on/yes", 2, 19}}},
		{"dynamic_interfaces", "global_defs {\n dynamic_interfaces\n dynamic_interfaces allow_if_changes\n}\n", nil, nil},
		{"net_namespace instance use_pid_dir", "net_namespace blue\ninstance i1\nuse_pid_dir\n", script(func(g *vigil.Global) string {
			return wantEq(g.Daemon, vigil.Daemon{NetNamespace: "blue", Instance: "i1", UsePidDir: true})
		}), nil},
		{"use_pid_dir: none", "global_defs {\n router_id r\n}\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon, vigil.Daemon{}) }), nil},
		{"net_namespace: twice", "net_namespace blue\nnet_namespace red\n", script(func(g *vigil.Global) string {
			return wantEq(g.Daemon.NetNamespace, "blue")
		}), []wantErr{{"duplicate namespace definition", 2, 15}}},
		{"net_namespace: missing", "net_namespace\n", nil, []wantErr{{"missing", 1, 1}}},
		{"net_namespace: a path", "net_namespace /run/netns/x\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.NetNamespace, "") }),
			[]wantErr{{"without '/'", 1, 15}}},
		{"instance: twice", "instance a\ninstance b\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.Instance, "a") }),
			[]wantErr{{"duplicate instance definition", 2, 10}}},
		{"instance: ..", "instance ..\n", nil, []wantErr{{"without '/'", 1, 10}}},
		{"instance: extra", "instance a b\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.Instance, "a") }),
			[]wantErr{{"extra argument", 1, 12}}},
		{"json_version 2", "global_defs {\n json_version 2\n}\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.JSONVersion, 2) }), nil},
		{"json_version 1", "global_defs {\n json_version 1\n}\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.JSONVersion, 1) }), nil},
		{"json_version: none", "global_defs {\n}\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.JSONVersion, 0) }), nil},
		{"json_version 3", "global_defs {\n json_version 2\n json_version 3\n}\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.JSONVersion, 2) }),
			[]wantErr{{"invalid number \"3\" (1..2)", 3, 15}}},
		{"json_version x", "global_defs {\n json_version x\n}\n", nil, []wantErr{{"invalid number", 2, 15}}},
		{"json_version: missing", "global_defs {\n json_version\n}\n", nil, []wantErr{{"missing", 2, 2}}},
		{"json_version: extra", "global_defs {\n json_version 1 2\n}\n", nil, []wantErr{{"extra argument", 2, 17}}},
		{"use_pid_dir: extra", "use_pid_dir yes\n", nil, []wantErr{{"extra argument", 1, 13}}},
		{"child_wait_time", "child_wait_time 12\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.ChildWaitTime, 12*time.Second) }), nil},
		{"child_wait_time: bad", "child_wait_time -1\n", script(func(g *vigil.Global) string { return wantEq(g.Daemon.ChildWaitTime, time.Duration(0)) }),
			[]wantErr{{"invalid number", 1, 17}}},
		{"fifo_write_vrrp_states_on_reload", "global_defs {\n fifo_write_vrrp_states_on_reload\n}\n", script(func(g *vigil.Global) string {
			return wantEq(g.FIFOStatesOnReload, true)
		}), nil},
		{"fifo_write_vrrp_states_on_reload: none", "global_defs {\n}\n", script(func(g *vigil.Global) string { return wantEq(g.FIFOStatesOnReload, false) }), nil},
		{"fifo_write_vrrp_states_on_reload: extra", "global_defs {\n fifo_write_vrrp_states_on_reload yes\n}\n", nil,
			[]wantErr{{"extra argument", 2, 35}}},
		{"dynamic_interfaces: bad", "global_defs {\n dynamic_interfaces sometimes\n}\n", nil, []wantErr{{"unknown option", 2, 21}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(tc.text)}}, "k.conf", Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
			if tc.want != nil {
				if msg := tc.want(&cfg); msg != "" {
					t.Error(msg)
				}
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}

// TestRandomSeed: random_seed seeds the ${_RANDOM} read after it, in
// global_defs and below, whatever Options.Rand; the ones before it draw
// from Options.Rand.
func TestRandomSeed(t *testing.T) {
	const text = "global_defs {\n router_id ${_RANDOM 0 1000000}\n random_seed 42\n vmac_prefix ${_RANDOM 0 1000000}\n}\nvrrp_instance ${_RANDOM 0 1000000} {\n}\n"
	read := func(seed uint64) (before, after1, after2 string) {
		tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(text)}}, "k.conf", Options{Rand: rand.New(rand.NewPCG(seed, seed))})
		if err != nil {
			t.Fatal(err)
		}
		g := tr.Statements[0].Block
		return g[0].Words[1], g[2].Words[1], tr.Statements[1].Words[1]
	}
	b1, a1, c1 := read(1)
	b2, a2, c2 := read(2)
	if a1 != a2 || c1 != c2 {
		t.Errorf("after random_seed 42: %s %s and %s %s, want the same", a1, c1, a2, c2)
	}
	if b1 == b2 {
		t.Errorf("before random_seed: %s both times, want Options.Rand's", b1)
	}
	tr, _ := Read(fstest.MapFS{"k.conf": {Data: []byte("global_defs {\n random_seed -1\n}\n")}}, "k.conf", Options{})
	_, errs := Load(tr, LoadOptions{})
	checkErrs(t, errs, []wantErr{{"invalid number", 2, 14}})
}
