package nstest

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ServeTCP listens on TCP port on every address of h's namespace and
// accepts (and closes) connections until t ends.
func (h *Host) ServeTCP(t testing.TB, port uint16) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(int(port)))
		return err
	}); err != nil {
		t.Fatalf("nstest: %s: listen on port %d: %v", h.Name, port, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
}

// DialTCP connects from h to addr (a link-local one through h.Link) on
// port within timeout, and closes the connection. A peer that drops the
// SYN shows only as the timeout.
func (h *Host) DialTCP(addr netip.Addr, port uint16, timeout time.Duration) error {
	return h.Do(func() error {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(h.Zoned(addr), port).String(), timeout)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Zoned returns addr with h.Link as its zone if it is link-local (for
// ping and dial), else addr.
func (h *Host) Zoned(addr netip.Addr) netip.Addr {
	if addr.Is6() && addr.IsLinkLocalUnicast() && addr.Zone() == "" {
		return addr.WithZone(h.Link)
	}
	return addr
}

// NeighMAC returns the link-layer address of h's neighbour entry for
// addr on h.Link, "" when it has none (or none resolved).
func (h *Host) NeighMAC(addr netip.Addr) (string, error) {
	out, err := Run("ip", "-n", h.Name, "neigh", "show", "dev", h.Link, "to", addr.WithZone("").String())
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1], nil
		}
	}
	return "", nil
}

// Reach reports whether h gets an echo reply (Ping) and a TCP
// connection on port (DialTCP within timeout) from addr.
func (h *Host) Reach(t testing.TB, addr netip.Addr, port uint16, timeout time.Duration) (ping, tcp bool) {
	t.Helper()
	_, err := h.Ping(t, h.Zoned(addr))
	return err == nil, h.DialTCP(addr, port, timeout) == nil
}
