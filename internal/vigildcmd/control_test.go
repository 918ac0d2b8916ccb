package vigildcmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil"
)

// shortDir is a temp dir with a path short enough for a unix socket.
func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "vg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func client(t *testing.T, sock string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append(args, "--control-socket", sock), Env{Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestControlSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "run", "control.sock")
	h := startDaemon(t, nil, "--control-socket", sock)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket %v, %v: want a socket, mode 0600", fi.Mode(), err)
	}
	if di, err := os.Stat(filepath.Dir(sock)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("socket dir: %v, %v", di.Mode(), err)
	}

	code, out, errs := client(t, sock, "status")
	if code != 0 {
		t.Fatalf("status: %d, %s", code, errs)
	}
	for _, w := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^INSTANCE\s+INTERFACE\s+VRID\s+STATE\s+PRIORITY\s+MASTER\s+SINCE\s+FAULTS$`),
		regexp.MustCompile(`(?m)^VI_1\s+eth0\s+51\s+MASTER\s+140 \(configured 150\)\s+192\.0\.2\.1\s+2000-01-01T00:00:00Z \(1m30s ago\)\s+-$`),
		regexp.MustCompile(`(?m)^VIRTUAL SERVER\s+QUORUM\s+REAL SERVER\s+HEALTH\s+WEIGHT\s+LAST ERROR$`),
		regexp.MustCompile(`(?m)^tcp 192\.0\.2\.100:80\s+UP\s+198\.51\.100\.1:80\s+UP\s+1\s+-$`),
		regexp.MustCompile(`(?m)^\s+198\.51\.100\.2:80\s+DOWN\s+0\s+connection refused$`),
	} {
		if !w.MatchString(out) {
			t.Errorf("status lacks %v:\n%s", w, out)
		}
	}

	code, out, _ = client(t, sock, "status", "--json")
	var st struct {
		Instances []struct{ Name, State string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Instances) != 1 || st.Instances[0].State != "MASTER" {
		t.Errorf("status --json: %d %q", code, out)
	}

	code, out, _ = client(t, sock, "dump")
	if code != 0 || !strings.Contains(out, " VRRP Instance = VI_1") {
		t.Errorf("dump: %d %q", code, out)
	}

	h.install("small2.conf")
	code, out, errs = client(t, sock, "reload")
	if code != 0 || out != "reloaded: instances changed VI_1\n" {
		t.Errorf("reload: %d %q %q", code, out, errs)
	}
	h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
	h.wantNote("READY=1\nSTATUS=running")
	h.install("errors.conf")
	code, _, errs = client(t, sock, "reload")
	if code != ExitFatal || !strings.Contains(errs, "keepalived.conf:5:16: error: advert_int") || !strings.Contains(errs, "running configuration is kept") {
		t.Errorf("reload of a bad file: %d %q", code, errs)
	}
	h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
	h.wantNote("READY=1\nSTATUS=running")
	if n := len(h.sup.reloaded()); n != 1 {
		t.Errorf("%d reloads, want 1", n)
	}

	// Bad requests get an answer, not a crash.
	for req, want := range map[string]string{
		"garbage\n":                         "bad request",
		`{"command":"format c:"}` + "\n":    "unknown command",
		`{"command":"status","x":1}` + "\n": "bad request",
		strings.Repeat("x", 10000) + "\n":   "request too long",
	} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(req))
		var resp Response
		if err := json.NewDecoder(bufio.NewReader(c)).Decode(&resp); err != nil || !strings.Contains(resp.Error, want) {
			t.Errorf("request %.20q: %+v, %v; want %q", req, resp, err, want)
		}
		c.Close()
	}
	// A client that connects and says nothing does not hold the stop.
	idle, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	// A second daemon does not take the socket over.
	if _, err := listenControl(sock); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("second listen: %v", err)
	}
	if c := h.stop(); c != ExitOK {
		t.Errorf("exit %d", c)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left: %v", err)
	}
	io.ReadAll(idle) // ends (EOF or reset): the daemon closed it
}

func TestControlStaleSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "control.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the socket file stays, nobody listens
	l2, err := listenControl(sock)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l2.Close()
}

func TestMetricsAndState(t *testing.T) {
	h := startDaemon(t, nil, "--metrics-address", "127.0.0.1:0")
	m := regexp.MustCompile(`msg="Serving /metrics and /state" address=(\S+)`).FindStringSubmatch(h.stderr.String())
	if m == nil {
		t.Fatalf("no address logged:\n%s", h.stderr)
	}
	get := func(path string) (string, string) {
		resp, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header.Get("Content-Type")
	}
	body, _ := get("/metrics")
	if !strings.Contains(body, "vigil_fake 1") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics:\n%.2000s", body)
	}
	body, ct := get("/state")
	var st struct {
		Instances []struct{ Name string }
	}
	if ct != "application/json" || json.Unmarshal([]byte(body), &st) != nil || len(st.Instances) != 1 || st.Instances[0].Name != "VI_1" {
		t.Errorf("/state (%s): %s", ct, body)
	}
	if c := h.stop(); c != ExitOK {
		t.Errorf("exit %d", c)
	}
}

func TestMetricsAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out bytes.Buffer
	env := testEnv(&out, &out)
	env.Build = func(vigil.Config, BuildOptions) (Supervisor, error) { return newFakeSup(), nil }
	env.Signals = make(chan os.Signal)
	env.Notify = func(string) error { return nil }
	dir := t.TempDir()
	env.RunDir = dir // -r and -c's defaults: not /run
	code := Main([]string{"-f", "testdata/small.conf", "-p", filepath.Join(dir, "k.pid"), "--control-socket", "none",
		"--metrics-address", ln.Addr().String()}, env)
	if code != ExitFatal || !strings.Contains(out.String(), "metrics address") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "k.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}
