package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestLoadFileReusesArenas: LoadFile builds the blocks of a top-level
// statement in the arrays of one already mapped (treeArena), so what it
// maps must be what Load maps from a tree read whole, for every sample
// and for a file of many virtual servers of every kind, with the
// arenas really reused.
func TestLoadFileReusesArenas(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join("testdata", "samples", "keepalived.conf*"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	big := filepath.Join(t.TempDir(), "many.conf")
	if err := os.WriteFile(big, []byte(manyServers()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(samples, big) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			opts := LoadOptions{LookupUser: fakeUsers}
			got, gotWarns, reused, gotErr := loadFile(name, opts, true)
			tr, rerr := ReadFile(name, opts.Read)
			want, wantErrs := Load(tr, opts)
			if d := firstDiff("Config", reflect.ValueOf(got), reflect.ValueOf(want)); d != "" {
				t.Errorf("LoadFile and Load map differently at %s", d)
			}
			var gotAll []string
			for _, e := range gotWarns {
				gotAll = append(gotAll, e.Error())
			}
			var el ErrorList
			if gotErr != nil && !errors.As(gotErr, &el) {
				t.Fatalf("LoadFile: %v", gotErr)
			}
			for _, e := range el {
				gotAll = append(gotAll, e.Error())
			}
			var wantAll []string
			var rl ErrorList
			if rerr != nil && !errors.As(rerr, &rl) {
				t.Fatalf("ReadFile: %v", rerr)
			}
			wantErrs = append(rl, wantErrs...)
			for _, e := range append(tr.Warnings, wantErrs...) {
				wantAll = append(wantAll, e.Error())
			}
			// LoadFile returns warnings and errors apart: the same
			// set, in another order.
			slices.Sort(gotAll)
			slices.Sort(wantAll)
			if g, w := strings.Join(gotAll, "\n"), strings.Join(wantAll, "\n"); g != w {
				t.Errorf("LoadFile reported\n%s\nLoad reported\n%s", g, w)
			}
			if name == big && reused < 100 {
				t.Errorf("%d statements built in a reused arena, want at least 100 of 150", reused)
			}
		})
	}
}

// manyServers is a configuration of 150 virtual servers of every kind
// (checkers, sorry servers, groups, fwmarks), with instances, a sync
// group and a tracker among them, one before global_defs.
func manyServers() string {
	var b strings.Builder
	b.WriteString("vrrp_script chk { script \"/bin/true\" }\n")
	b.WriteString("global_defs {\n router_id many\n}\n")
	b.WriteString("virtual_server_group G {\n 192.0.2.200 80\n fwmark 7\n}\n")
	checks := []string{
		"TCP_CHECK {\n connect_timeout 3\n connect_port 80\n }",
		"HTTP_GET {\n url {\n path /a%d\n status_code 200\n }\n url {\n path /b\n digest 0123456789abcdef0123456789abcdef\n }\n connect_port 8080\n }",
		"MISC_CHECK {\n misc_path \"/bin/check %d\"\n misc_dynamic\n }",
		"SMTP_CHECK {\n helo_name h%d.example\n }",
		"DNS_CHECK {\n name n%d.example\n type AAAA\n }",
		"PING_CHECK {\n retry 2\n }",
		"UDP_CHECK {\n connect_port 53\n require_reply\n }",
	}
	for v := range 150 {
		port := " 80"
		switch {
		case v%10 == 3:
			fmt.Fprintf(&b, "virtual_server fwmark %d {\n", v+1)
			port = ""
		case v == 7:
			b.WriteString("virtual_server group G {\n")
		default:
			fmt.Fprintf(&b, "virtual_server 198.18.%d.%d 80 {\n", v/200, v%200+1)
		}
		fmt.Fprintf(&b, " delay_loop %d\n lb_algo %s\n lb_kind %s\n protocol TCP\n", 3+v%4, []string{"rr", "wrr", "lc", "sh"}[v%4], []string{"NAT", "DR", "TUN"}[v%3])
		if v%5 == 0 {
			fmt.Fprintf(&b, " sorry_server 203.0.113.%d 80\n quorum %d\n", v%200+1, 1+v%3)
		}
		for r := range 2 + v%4 {
			fmt.Fprintf(&b, " real_server 198.19.%d.%d%s {\n  weight %d\n", v%200, r+1, port, 1+r)
			c := checks[(v+r)%len(checks)]
			if strings.Contains(c, "%d") {
				c = fmt.Sprintf(c, v)
			}
			fmt.Fprintf(&b, "  %s\n }\n", c)
		}
		b.WriteString("}\n")
		if v == 100 {
			b.WriteString("vrrp_sync_group SG {\n group {\n VI_10\n VI_60\n }\n}\n")
		}
		if v%50 == 10 {
			fmt.Fprintf(&b, "vrrp_instance VI_%d {\n interface eth0\n virtual_router_id %d\n priority 100\n virtual_ipaddress {\n 192.0.2.%d/24\n }\n track_script {\n chk\n }\n}\n", v, v%255+1, v%200+1)
		}
	}
	return b.String()
}

// firstDiff names the first place where a and b differ (reflect's
// DeepEqual rules, funcs compared by nil-ness), or "" when none.
func firstDiff(path string, a, b reflect.Value) string {
	if a.IsValid() != b.IsValid() {
		return path
	}
	if !a.IsValid() {
		return ""
	}
	if a.Type() != b.Type() {
		return path + " (type)"
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path
			}
			return ""
		}
		return firstDiff(path, a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if d := firstDiff(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return path + " (len)"
		}
		for i := range a.Len() {
			if d := firstDiff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if a.Len() != b.Len() {
			return path + " (len)"
		}
		for _, k := range a.MapKeys() {
			if d := firstDiff(fmt.Sprintf("%s[%v]", path, k), a.MapIndex(k), b.MapIndex(k)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Func:
		if a.IsNil() != b.IsNil() {
			return path
		}
		return ""
	}
	if as, bs := fmt.Sprint(a), fmt.Sprint(b); as != bs {
		return fmt.Sprintf("%s: %s != %s", path, as, bs)
	}
	return ""
}
