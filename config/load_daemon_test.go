package config

import (
	"fmt"
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
