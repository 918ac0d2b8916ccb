//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// keepalived's checker, with the stand-in for IPVS preloaded, starts
// where the kernel has no IPVS, stays up and checks its real server with
// HTTP_GET. Without the stand-in (and without IPVS in the kernel) its
// checker exits ("IPVS: Can't initialize ipvs") and startKeepalived
// fails.
func TestFakeIPVSKeepalived(t *testing.T) {
	nstest.Root(t)
	paths := nstest.NeedTools(t, "ip", "keepalived", "cc")
	so, err := buildFakeIPVS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := newNamespaceNamed(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := nstest.Run("ip", "netns", "del", ns); err != nil {
			t.Error(err)
		}
	})

	// The real server: 198.18.1.1:10000 in ns, answering each request as
	// the bench's listener does. Its socket is made in ns and served here.
	var ln net.Listener
	if err := nstest.DoInNamed(ns, func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf("%s:%d", targetAddr(0), basePort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	requests := make(chan string, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 4096)
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			n, _ := conn.Read(b)
			_, _ = conn.Write([]byte(httpResponse))
			conn.Close()
			select {
			case requests <- string(b[:n]):
			default:
			}
		}
	}()

	c := &config{addrs: 1, ports: 1, interval: time.Second, keepalived: paths[1], fakeIPVS: so}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k, err := startKeepalived(ctx, c, ns, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := k.stop(); err != nil {
			t.Error(err)
		}
	}()
	// delay_loop 1: the first check comes within a second or two of the
	// start; 20 s is a bound, not a wait.
	select {
	case req := <-requests:
		if !strings.HasPrefix(req, "GET / HTTP/1.0\r\n") {
			t.Errorf("keepalived's request %q, want a GET / HTTP/1.0", req)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no HTTP_GET from keepalived's checker in 20 s: %s", k.Out.Tail(20))
	}
	// A second check: the checker kept running after its first.
	select {
	case <-requests:
	case <-time.After(20 * time.Second):
		t.Fatalf("no second HTTP_GET in 20 s: %s", k.Out.Tail(20))
	}
	if !k.Alive() {
		t.Fatalf("keepalived's checker exited: %s", k.Out.Tail(20))
	}
	if out := k.Out.String(); strings.Contains(out, "Can't initialize ipvs") {
		t.Errorf("keepalived could not initialise IPVS with the stand-in: %s", k.Out.Tail(20))
	}
}
