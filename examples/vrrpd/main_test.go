//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-vrid", "51"},
		{"-interface", "eth0"},
		{"-interface", "eth0", "-vrid", "0"},
		{"-interface", "eth0", "-vrid", "250", "-count", "10"},
		{"-interface", "eth0", "-vrid", "51", "-priority", "0"},
		{"-interface", "eth0", "-vrid", "51", "-version", "4"},
		{"-interface", "eth0", "-vrid", "51", "extra"},
		{"-interface", "eth0", "-vrid", "51", "-vip", "192.0.2.300/24"},
		{"-interface", "eth0", "-vrid", "51", "-peer", "nope"},
		{"-interface", "eth0", "-vrid", "51", "-state", "FAULT"},
		{"-interface", "eth0", "-vrid", "51", "-log-level", "loud"},
		{"-interface", "eth0", "-vrid", "51", "-advert", "1500ms"},
		{"-interface", "eth0", "-vrid", "51", "-spell-gc-percent", "-1"},
		{"-interface", "eth0", "-vrid", "51", "-gc-percent", "0"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestCountShiftsVIPs(t *testing.T) {
	o, err := parseFlags([]string{"-interface", "eth0", "-vrid", "10", "-count", "3", "-vip", "198.18.0.254/15"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := o.routerConfigs(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cfgs {
		got = append(got, c.Name+"="+c.VIPs[0].String())
	}
	if s := strings.Join(got, " "); s != "VI_10=198.18.0.254/15 VI_11=198.18.0.255/15 VI_12=198.18.1.0/15" {
		t.Errorf("got %s", s)
	}
}

// Two vrrpd in two namespaces: JSON lines for the election, and on
// cancel (SIGTERM) the master leaves gracefully and the backup takes over.
func TestVrrpdJSON(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	type proc struct {
		cancel context.CancelFunc
		done   chan error
		lines  chan event
	}
	start := func(h *nstest.Host, prio string) *proc {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		p := &proc{cancel: cancel, done: make(chan error, 1), lines: make(chan event, 16)}
		go func() {
			p.done <- run(ctx, []string{"-netns", h.Name, "-interface", "eth0", "-vrid", "51", "-priority", prio,
				"-version", "3", "-advert", "100ms", "-vip", "192.0.2.100/24"}, pw, io.Discard)
			pw.Close()
		}()
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				var e event
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Errorf("bad JSON line %q: %v", sc.Text(), err)
					continue
				}
				p.lines <- e
			}
			close(p.lines)
		}()
		t.Cleanup(func() { cancel(); <-p.done })
		return p
	}
	next := func(p *proc) event {
		t.Helper()
		select {
		case e := <-p.lines:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no JSON line within 5s")
		}
		return event{}
	}
	a := start(seg.Hosts[0], "150")
	if e := next(a); e.From != "INIT" || e.To != "BACKUP" || e.Instance != "VI_51" {
		t.Errorf("first line %+v", e)
	}
	if e := next(a); e.To != "MASTER" || e.Reason != "master-down" || e.Master != "192.0.2.1" || e.Priority != 150 {
		t.Errorf("second line %+v", e)
	}
	b := start(seg.Hosts[1], "100")
	if e := next(b); e.To != "BACKUP" {
		t.Errorf("b: %+v", e)
	}
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatal(err)
	}
	a.done <- nil
	if e := next(a); e.From != "MASTER" || e.To != "STOPPED" || e.Reason != "shutdown" {
		t.Errorf("a on SIGTERM: %+v", e)
	}
	e := next(b)
	if e.To != "MASTER" || e.Reason != "master-resigned" {
		t.Errorf("b after a left: %+v", e)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
		t.Errorf("time %q: %v", e.Time, err)
	}
}

// -interface with a list runs -count routers on each interface, named
// and VIP-shifted on across them (as bench/instances' keepalived.conf).
func TestInterfaceList(t *testing.T) {
	o, err := parseFlags([]string{"-interface", "eth0,eth1", "-vrid", "1", "-count", "2", "-vip", "198.18.0.1/15"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := o.routerConfigs(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k, c := range cfgs {
		got = append(got, fmt.Sprintf("%s=%s/%d/%s", c.Name, o.interfaces()[k/int(o.count)], c.VRID, c.VIPs[0]))
	}
	want := "VI_1=eth0/1/198.18.0.1/15 VI_2=eth0/2/198.18.0.2/15 VI_3=eth1/1/198.18.0.3/15 VI_4=eth1/2/198.18.0.4/15"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
	if _, err := parseFlags([]string{"-interface", "eth0,", "-vrid", "1"}, io.Discard); err == nil {
		t.Error("an empty interface name accepted")
	}
}
