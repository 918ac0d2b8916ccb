package nstest

import (
	"net"
	"strings"
	"testing"
)

func TestSegment(t *testing.T) {
	Require(t) // for the check after the subtest too
	var names []string
	t.Run("build", func(t *testing.T) {
		s := NewSegment(t, 3)
		names = append(names, s.Switch)
		for _, h := range s.Hosts {
			names = append(names, h.Name)
		}
		a, c := s.Hosts[0], s.Hosts[2]
		// Without ping only this part skips.
		t.Run("ping", func(t *testing.T) {
			if out, err := a.Ping(t, c.Addr4.Addr()); err != nil {
				t.Fatalf("IPv4 ping across the bridge: %v\n%s", err, out)
			}
			if out, err := a.Ping(t, c.Addr6.Addr()); err != nil {
				t.Fatalf("IPv6 ping across the bridge: %v\n%s", err, out)
			}
		})
		// DAD is off in each host's namespace (Build writes its /proc/sys).
		for _, h := range s.Hosts {
			if out, _ := h.Exec("cat", "/proc/sys/net/ipv6/conf/all/accept_dad", "/proc/sys/net/ipv6/conf/default/accept_dad"); out != "0\n0\n" {
				t.Errorf("%s: accept_dad all, default: %q", h.Name, out)
			}
		}
		if ok, err := c.HasAddr(c.LinkLocal); err != nil || !ok {
			t.Fatalf("%s lacks link-local %v: %v", c.Name, c.LinkLocal, err)
		}
		// Do runs in the namespace: the only non-loopback interface is eth0
		// with the host's MAC.
		err := c.Do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			if ifi.HardwareAddr.String() != "02:00:00:00:01:03" {
				t.Errorf("eth0 MAC %v", ifi.HardwareAddr)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetLink(false); err != nil {
			t.Fatal(err)
		}
		if out, _ := c.Exec("ip", "link", "show", "eth0"); !strings.Contains(out, "state DOWN") {
			t.Errorf("link not down: %s", out)
		}
	})
	out := MustRun(t, "ip", "netns", "list")
	for _, n := range names {
		if strings.Contains(out, n) {
			t.Errorf("namespace %s left behind", n)
		}
	}
}
