package vigildcmd

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
)

// secretsConf are the secrets of testdata/secrets.conf: auth_pass, the
// bgp neighbor's password, the SSL block's password.
var secretsConf = []string{"VRRP7a2c", "BGPMD5-4b1d", "SSLPASS-9f3e"}

// sslGetVS is a virtual server with an SSL_GET check: its tls.Config
// is not something encoding/json encodes, so -d's dump goes through
// jsonable.
const sslGetVS = `
virtual_server 192.0.2.100 443 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.1 443 {
        SSL_GET {
            url {
                path /
            }
        }
    }
}
`

// TestDumpsHideSecrets runs vigild -d on a configuration that carries
// every secret keepalived.conf and the bgp block can hold, without and
// with an SSL_GET check (-d's JSON, directly and through jsonable), takes every
// dump and answer vigild gives (the log, keepalived.data, vigild.json,
// keepalived.stats, keepalived.json, vigild status, status --json and
// dump, /state), and checks that no secret is in any, and that the mask
// is where the configuration is shown.
func TestDumpsHideSecrets(t *testing.T) {
	needBGP(t)
	for _, tc := range []struct {
		name  string
		extra string
		// wantLog is what -d's dump shows of the secrets (the text
		// handler quotes the JSON).
		wantLog []string
	}{
		{"json", "", []string{`\"AuthPass\": \"********\"`, `\"Password\": \"********\"`}},
		{"ssl_get", sslGetVS, []string{`\"AuthPass\": \"********\"`, `\"Password\": \"********\"`, `\"InsecureSkipVerify\": `}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(shortDir(t), "control.sock")
			var built []*fakeSpeaker
			var mu sync.Mutex
			install := bgpEnv(t, "secrets.conf", &built, &mu, nil)
			h := startDaemonEnv(t, nil, func(e *Env) {
				install(e)
				f, err := os.OpenFile(filepath.Join(e.DumpDir, "keepalived.conf"), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteString(tc.extra); err != nil {
					t.Fatal(err)
				}
			}, "-d", "--control-socket", sock, "--metrics-address", "127.0.0.1:0")

			got := map[string]string{}
			for _, args := range [][]string{{"status"}, {"status", "--json"}, {"dump"}} {
				code, out, errs := client(t, sock, args...)
				if code != ExitOK {
					t.Fatalf("vigild %v: exit %d: %s", args, code, errs)
				}
				got["vigild "+strings.Join(args, " ")] = out
			}
			m := regexp.MustCompile(`msg="Serving /metrics and /state" address=(\S+)`).FindStringSubmatch(h.stderr.String())
			if m == nil {
				t.Fatalf("no metrics address logged:\n%s", h.stderr)
			}
			resp, err := http.Get("http://" + m[1] + "/state")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			got["/state"] = string(b)

			h.sigs <- syscall.SIGUSR1
			h.sigs <- syscall.SIGUSR2
			h.sigs <- JSONSignal
			if c := h.stop(); c != ExitOK {
				t.Fatalf("exit %d; log:\n%s", c, h.stderr)
			}
			for _, f := range []string{DataFile, StatsFile, JSONFile, KeepalivedJSONFile} {
				b, err := os.ReadFile(filepath.Join(h.dir, f))
				if err != nil {
					t.Fatal(err)
				}
				got[f] = string(b)
			}
			got["log"] = h.stderr.String()

			for name, text := range got {
				for _, s := range secretsConf {
					if strings.Contains(text, s) {
						t.Errorf("%s shows the secret %q:\n%s", name, s, text)
					}
				}
			}
			for name, wants := range map[string][]string{
				"log":              tc.wantLog,
				DataFile:           {"   Authentication type = SIMPLE_PASSWORD\n   Password = ********\n"},
				"vigild dump":      {"   Authentication type = SIMPLE_PASSWORD\n   Password = ********\n"},
				KeepalivedJSONFile: {`"auth_type":1,"auth_data":"********"`},
			} {
				for _, w := range wants {
					if !strings.Contains(got[name], w) {
						t.Errorf("%s lacks %q:\n%s", name, w, got[name])
					}
				}
			}
		})
	}
}

// secretName is the name of a field that looks like it holds a secret.
var secretName = regexp.MustCompile(`(?i)pass|secret|token|cred|psk|md5|private`)

// TestRedactedMasksEverySecret fills every string field of vigil.Config
// whose name looks like a secret's (following pointers and slices
// through vigil's types), redacts it, and checks that none is left, and
// that redacted changed nothing in the original. A new secret field in
// the configuration fails here until redacted masks it. The checkers
// are behind an interface redacted does not open: none of their types
// may have such a field.
func TestRedactedMasksEverySecret(t *testing.T) {
	var cfg vigil.Config
	var filled []string
	fillSecrets(reflect.ValueOf(&cfg).Elem(), "Config", nil, &filled)
	for _, want := range []string{"Config.Instances[0].InstanceConfig.VRRP.AuthPass", "Config.BGP.Peers[0].Password"} {
		if !slices.Contains(filled, want) {
			t.Errorf("%s not found as a secret; found %q", want, filled)
		}
	}
	r := redacted(&cfg)
	for _, p := range secretsIn(reflect.ValueOf(r), "Config") {
		t.Errorf("redacted leaves %s", p)
	}
	if left := secretsIn(reflect.ValueOf(cfg), "Config"); !slices.Equal(left, filled) {
		t.Errorf("after redacted, the original holds %q, want %q", left, filled)
	}

	for _, c := range []check.Checker{&check.HTTP{}, &check.TCP{}, &check.SMTP{}, &check.DNS{}, &check.Exec{},
		&check.UDP{}, &check.ICMP{}, &check.File{}} {
		var found []string
		v := reflect.ValueOf(c).Elem()
		fillSecrets(v, v.Type().String(), nil, &found)
		if len(found) > 0 {
			t.Errorf("checker fields %q look like secrets: a dump of a checker would show them", found)
		}
	}
}

// fillSecrets sets each settable string field of v (a struct of vigil's,
// at path) named like a secret to "SECRET:" and its path, appending the
// path to filled; it makes one element of each slice and allocates each
// nil pointer on the way, within vigil's types (stack stops recursion).
func fillSecrets(v reflect.Value, path string, stack []reflect.Type, filled *[]string) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer:
		if !ours(t.Elem()) || slices.Contains(stack, t.Elem()) {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		fillSecrets(v.Elem(), path, stack, filled)
	case reflect.Slice:
		if !ours(t.Elem()) || slices.Contains(stack, t.Elem()) {
			return
		}
		v.Set(reflect.MakeSlice(t, 1, 1))
		fillSecrets(v.Index(0), path+"[0]", stack, filled)
	case reflect.Struct:
		if !ours(t) {
			return
		}
		stack = append(stack, t)
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			p := path + "." + f.Name
			if f.Type.Kind() == reflect.String && secretName.MatchString(f.Name) {
				v.Field(i).SetString("SECRET:" + p)
				*filled = append(*filled, p)
				continue
			}
			fillSecrets(v.Field(i), p, stack, filled)
		}
	}
}

// secretsIn returns the paths of the strings in v that fillSecrets set.
func secretsIn(v reflect.Value, path string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = secretsIn(v.Elem(), path)
		}
	case reflect.Slice:
		for i := range v.Len() {
			out = append(out, secretsIn(v.Index(i), path+"["+strconv.Itoa(i)+"]")...)
		}
	case reflect.Struct:
		if !ours(v.Type()) {
			return nil
		}
		for i := range v.NumField() {
			out = append(out, secretsIn(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
	case reflect.String:
		if strings.HasPrefix(v.String(), "SECRET:") {
			out = append(out, path)
		}
	}
	return out
}

// ours says whether t is one of vigil's types, or built from them.
func ours(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t.PkgPath() == "" && t.Kind() != reflect.Struct || strings.HasPrefix(t.PkgPath(), "github.com/vigil-ha/vigil")
}
