package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// keepalivedComplaints are the problems keepalived 2.2.7 reports for its
// own sample configurations (keepalived -t -f FILE; those that depend on
// the host, "tracked interface eth1 doesn't exist", left out), each
// with the line keepalived gives and the diagnostic vigil must give for
// it: at the line (vigil's may be on another line of the same
// statement, which the row says), with a word of its message.
var keepalivedComplaints = []struct {
	sample, config string // file; -i config-id
	kaLine         int    // keepalived's line
	kaSays         string // keepalived's message (for the reader)
	line           int    // vigil's line
	says           string // in vigil's message
}{
	// keepalived reports a vrrp_script without script at the block's
	// end (its '}' on line 13 with -i none: both script lines dropped);
	// vigil at the block's start.
	{"keepalived.conf.conditional_conf", "none", 13, "No script set for vrrp_script check_VI_0 - removing", 6, "no script"},
	{"keepalived.conf.conditional_conf", "none", 25, "(VI_0) track script check_VI_0 not found, ignoring...", 25, "not defined"},
	// A sync group listing its members outside a group { } block.
	{"keepalived.conf.vrrp.lvs_syncd", "", 4, "Unknown keyword 'VI_2'", 4, `unknown keyword "VI_2"`},
	{"keepalived.conf.vrrp.lvs_syncd", "", 5, "Unknown keyword 'VI_3'", 5, `unknown keyword "VI_3"`},
	{"keepalived.conf.vrrp.lvs_syncd", "", 11, "Specifying lvs_sync_daemon_interface against a vrrp is deprecated.", 11, "lvs_sync_daemon_interface"},
	{"keepalived.conf.vrrp.routes", "", 30, `"or" for routes is deprecated. Please use "nexthop"`, 30, `"or" is deprecated`},
	{"keepalived.conf.vrrp.routes", "", 32, `"gw" for routes is deprecated. Please use "via"`, 32, `"gw" is deprecated`},
	{"keepalived.conf.vrrp.rules", "", 10, "Rule has no preference specified - setting to 16384.", 10, "no preference"},
	{"keepalived.conf.vrrp.rules", "", 11, "VRRP parsed invalid IP 192.168.100./24. skipping IP...", 11, `invalid address "192.168.100./24"`},
	{"keepalived.conf.vrrp.rules", "", 25, "Rule has no preference specified - setting to 16383.", 25, "no preference"},
	{"keepalived.conf.vrrp.rules", "", 26, "VRRP parsed invalid IP 192.168.200./24. skipping IP...", 26, `invalid address "192.168.200./24"`},
	// keepalived names no line for these.
	{"keepalived.conf.SSL_GET", "", 0, "(VI_1) Initial state master is incompatible with AH authentication - clearing", 20, "AH"},
	{"keepalived.conf.fwmark", "", 0, "Warning: Virtual server FWM 1: protocol specified for fwmark - protocol will be ignored", 7, "protocol specified for fwmark"},
}

// TestSamplesKeepalivedRejects: where keepalived complains about one of
// its samples, vigil does too, at the line.
func TestSamplesKeepalivedRejects(t *testing.T) {
	for _, c := range keepalivedComplaints {
		t.Run(fmt.Sprintf("%s:%d", strings.TrimPrefix(c.sample, "keepalived.conf."), c.line), func(t *testing.T) {
			_, warns, err := LoadFile(filepath.Join("testdata", "samples", c.sample), LoadOptions{Read: Options{ConfigID: c.config}, LookupUser: fakeUsers})
			all := append([]*Error(nil), warns...)
			var list ErrorList
			if errors.As(err, &list) {
				all = append(all, list...)
			} else if err != nil {
				t.Fatal(err)
			}
			var seen []string
			for _, e := range all {
				if e.Pos.Line == c.line {
					if strings.Contains(e.Msg, c.says) {
						return
					}
					seen = append(seen, e.Error())
				}
			}
			t.Errorf("keepalived says %q (line %d); vigil has no diagnostic with %q at line %d: %q", c.kaSays, c.kaLine, c.says, c.line, seen)
		})
	}
}
