package vigildcmd

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/vigil-ha/vigil"
)

// TestPidFilesNames: keepalived's pid-file names (main.c) for
// use_pid_dir, instance and net_namespace, seen from the host.
func TestPidFilesNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		d    vigil.Daemon
		want pidPaths
	}{
		{"default", Options{}, vigil.Daemon{}, pidPaths{"/run/keepalived.pid", "/run/vrrp.pid", "/run/checkers.pid"}},
		{"use_pid_dir", Options{}, vigil.Daemon{UsePidDir: true},
			pidPaths{"/run/keepalived/keepalived.pid", "/run/keepalived/vrrp.pid", "/run/keepalived/checkers.pid"}},
		{"instance", Options{}, vigil.Daemon{Instance: "a"},
			pidPaths{"/run/keepalived/keepalived_a.pid", "/run/keepalived/vrrp_a.pid", "/run/keepalived/checkers_a.pid"}},
		{"net_namespace", Options{}, vigil.Daemon{NetNamespace: "blue"},
			pidPaths{"/run/keepalived/blue/keepalived.pid", "/run/keepalived/blue/vrrp.pid", "/run/keepalived/blue/checkers.pid"}},
		{"--namespace", Options{Namespace: "red"}, vigil.Daemon{},
			pidPaths{"/run/keepalived/red/keepalived.pid", "/run/keepalived/red/vrrp.pid", "/run/keepalived/red/checkers.pid"}},
		{"--namespace wins", Options{Namespace: "red"}, vigil.Daemon{NetNamespace: "blue", Instance: "a"},
			pidPaths{"/run/keepalived/red/keepalived_a.pid", "/run/keepalived/red/vrrp_a.pid", "/run/keepalived/red/checkers_a.pid"}},
		{"--namespace as a path", Options{Namespace: "/proc/7/ns/net"}, vigil.Daemon{},
			pidPaths{"/run/keepalived/keepalived.pid", "/run/keepalived/vrrp.pid", "/run/keepalived/checkers.pid"}},
		{"-p -r -c win", Options{PidFile: "/x/k.pid", VRRPPidFile: "/x/v.pid", CheckersPidFile: "/x/c.pid"}, vigil.Daemon{Instance: "a", NetNamespace: "blue"},
			pidPaths{"/x/k.pid", "/x/v.pid", "/x/c.pid"}},
		{"-p in the bind-mounted dir", Options{PidFile: "/run/keepalived/k.pid"}, vigil.Daemon{NetNamespace: "blue"},
			pidPaths{"/run/keepalived/blue/k.pid", "/run/keepalived/blue/vrrp.pid", "/run/keepalived/blue/checkers.pid"}},
		{"-p in the pid dir, no namespace", Options{PidFile: "/run/keepalived/k.pid"}, vigil.Daemon{},
			pidPaths{"/run/keepalived/k.pid", "/run/vrrp.pid", "/run/checkers.pid"}},
	} {
		if got := pidFiles(&tc.o, &tc.d, "/run"); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestDaemonNetNamespaceInstance: vigild runs in the file's
// net_namespace unless --namespace names one, writes its pid files in
// /run/keepalived/NS with the instance's names, and refuses a reload
// that changes the instance or the namespace, as keepalived.
func TestDaemonNetNamespaceInstance(t *testing.T) {
	small, err := os.ReadFile("testdata/small.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		ns, dir string
		// nsReload: whether a reload may change net_namespace.
		nsReload bool
	}{
		{"net_namespace", nil, "/run/netns/blue", "blue", false},
		{"--namespace", []string{"-s", "red"}, "/run/netns/red", "red", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				run := t.TempDir()
				conf := filepath.Join(t.TempDir(), "k.conf")
				write := func(extra string) {
					if err := os.WriteFile(conf, append(append([]byte(nil), small...), extra...), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				write("net_namespace blue\ninstance i1\n")
				sup := newFakeSup()
				var netns string
				build := func(cfg vigil.Config, o BuildOptions) (Supervisor, error) {
					netns = o.Netns
					return sup, nil
				}
				h := startDaemonEnv(t, build, func(e *Env) { e.RunDir = run }, append([]string{"-f", conf}, tc.args...)...)
				if netns != tc.ns {
					t.Errorf("namespace %q, want %q", netns, tc.ns)
				}
				dir := filepath.Join(run, "keepalived", tc.dir)
				for _, f := range []string{"keepalived_i1.pid", "vrrp_i1.pid", "checkers_i1.pid"} {
					if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != "4242\n" {
						t.Errorf("%s: %q, %v", f, b, err)
					}
				}
				reload := func(extra string, applied int, log string) {
					t.Helper()
					write(extra)
					h.sigs <- syscall.SIGHUP
					h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
					h.wantNote("READY=1\nSTATUS=running")
					if n := len(sup.reloaded()); n != applied {
						t.Errorf("reload with %q: %d applied, want %d", extra, n, applied)
					}
					if log != "" && !strings.Contains(h.stderr.String(), log) {
						t.Errorf("log lacks %q:\n%s", log, h.stderr)
					}
				}
				reload("net_namespace blue\ninstance i2\n", 0, "Cannot change instance name at a reload")
				if tc.nsReload {
					reload("net_namespace green\ninstance i1\n", 1, "")
				} else {
					reload("net_namespace green\ninstance i1\n", 0, "Cannot change network namespace at a reload")
					reload("net_namespace blue\ninstance i1\nuse_pid_dir\n", 1, "")
				}
				if c := h.stop(); c != ExitOK {
					t.Errorf("exit %d", c)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("left in %s: %v", dir, ents)
				}
				if tc.nsReload && !strings.Contains(h.stderr.String(), "Overriding config net_namespace") {
					t.Errorf("log:\n%s", h.stderr)
				}
			})
		})
	}
}
