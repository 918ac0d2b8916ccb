package vigildcmd

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/bgp/bgpstate"
)

// vigild status (text and --json), /state and /metrics show the bgp
// block's speaker: its peers' sessions and its VIPs' routes, from the
// speaker's own report; without a bgp block, none of them has a BGP
// part.
func TestStatusShowsBGP(t *testing.T) {
	needBGP(t)
	sock := filepath.Join(shortDir(t), "control.sock")
	var built []*fakeSpeaker
	var mu sync.Mutex
	h := startDaemonEnv(t, nil, bgpEnv(t, "bgp.conf", &built, &mu, nil), "--control-socket", sock, "--metrics-address", "127.0.0.1:0")
	var sp *fakeSpeaker
	for deadline := time.Now().Add(10 * time.Second); sp == nil; {
		mu.Lock()
		if len(built) > 0 {
			sp = built[0]
		}
		mu.Unlock()
		if sp == nil && time.Now().After(deadline) {
			t.Fatal("no speaker built within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	sp.setStatus(bgpstate.State{
		Peers: []bgpstate.PeerState{{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64512, Session: "established"},
			{Address: netip.MustParseAddr("192.0.2.253"), ASN: 64512, Session: "active"}},
		VIPs: []bgpstate.VIPState{{Prefix: netip.MustParsePrefix("203.0.113.10/32"), Announced: true, Draining: true},
			{Prefix: netip.MustParsePrefix("203.0.113.11/32")}},
		Draining: true,
	})

	code, out, errs := client(t, sock, "status")
	if code != ExitOK {
		t.Fatalf("vigild status: exit %d: %s", code, errs)
	}
	for _, re := range []string{
		`(?m)^BGP PEER +AS +SESSION$`,
		`(?m)^192\.0\.2\.254 +64512 +established$`,
		`(?m)^192\.0\.2\.253 +64512 +active$`,
		`(?m)^BGP VIP +ANNOUNCED \(draining\)$`,
		`(?m)^203\.0\.113\.10/32 +yes \(graceful shutdown\)$`,
		`(?m)^203\.0\.113\.11/32 +no$`,
		`(?m)^INSTANCE `, // the instances' table is still there
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("vigild status lacks %s:\n%s", re, out)
		}
	}

	code, out, errs = client(t, sock, "status", "--json")
	if code != ExitOK {
		t.Fatalf("vigild status --json: exit %d: %s", code, errs)
	}
	checkStateJSON(t, "vigild status --json", out)

	m := regexp.MustCompile(`msg="Serving /metrics and /state" address=(\S+)`).FindStringSubmatch(h.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", h.stderr)
	}
	checkStateJSON(t, "/state", get(t, "http://"+m[1]+"/state"))
	metrics := get(t, "http://"+m[1]+"/metrics")
	for _, want := range []string{
		`vigil_bgp_peer_established{asn="64512",peer="192.0.2.254"} 1`,
		`vigil_bgp_peer_established{asn="64512",peer="192.0.2.253"} 0`,
		`vigil_bgp_vip_announced{prefix="203.0.113.10/32"} 1`,
		`vigil_bgp_vip_draining{prefix="203.0.113.10/32"} 1`,
		`vigil_bgp_vip_announced{prefix="203.0.113.11/32"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if c := h.stop(); c != ExitOK {
		t.Fatalf("exit %d; log:\n%s", c, h.stderr)
	}

	// No bgp block: no BGP anywhere.
	sock = filepath.Join(shortDir(t), "control.sock")
	h = startDaemonEnv(t, nil, nil, "--control-socket", sock, "--metrics-address", "127.0.0.1:0")
	defer h.stop()
	if _, out, _ := client(t, sock, "status"); strings.Contains(out, "BGP") {
		t.Errorf("vigild status without a bgp block shows BGP:\n%s", out)
	}
	if _, out, _ := client(t, sock, "status", "--json"); strings.Contains(out, `"bgp"`) {
		t.Errorf("vigild status --json without a bgp block shows bgp:\n%s", out)
	}
	m = regexp.MustCompile(`msg="Serving /metrics and /state" address=(\S+)`).FindStringSubmatch(h.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", h.stderr)
	}
	if s := get(t, "http://"+m[1]+"/metrics"); strings.Contains(s, "vigil_bgp_") {
		t.Errorf("/metrics without a bgp block has BGP series")
	}
}

// checkStateJSON checks a /state or status --json answer: the
// Supervisor's State at the top, the speaker's status under "bgp".
func checkStateJSON(t *testing.T, what, text string) {
	t.Helper()
	var got struct {
		Instances []struct{ Name string }
		BGP       *bgpstate.State `json:"bgp"`
	}
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%s: %v:\n%s", what, err, text)
	}
	if len(got.Instances) != 1 || got.Instances[0].Name != "VI_1" {
		t.Errorf("%s: instances %+v, want VI_1", what, got.Instances)
	}
	if got.BGP == nil || len(got.BGP.Peers) != 2 || got.BGP.Peers[0].Session != "established" ||
		len(got.BGP.VIPs) != 2 || !got.BGP.VIPs[0].Draining || !got.BGP.Draining {
		t.Errorf("%s: bgp %+v, want the speaker's status:\n%s", what, got.BGP, text)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
