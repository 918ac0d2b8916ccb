package nstest

import (
	"net"
	"strings"
	"time"
)

// Recreate deletes h's interface (and its bridge port) and creates it
// again with the same name, a new index and the MAC mac (h.MAC if nil),
// with h's addresses, up and back on the bridge, as when an operator or a
// container runtime re-creates an interface. It waits (bounded) until the
// interface carries traffic.
func (h *Host) Recreate(mac net.HardwareAddr) error {
	if err := h.Delete(); err != nil {
		return err
	}
	return h.Create(mac)
}

// Delete deletes h's interface and its bridge port.
func (h *Host) Delete() error {
	_, err := Run("ip", "-n", h.Name, "link", "del", h.Link)
	return err
}

// Create creates h's interface after Delete: see Recreate.
func (h *Host) Create(mac net.HardwareAddr) error {
	if mac == nil {
		mac = h.MAC
	}
	sw := h.seg.Switch
	steps := [][]string{
		{"ip", "-n", h.Name, "link", "add", h.Link, "address", mac.String(), "type", "veth", "peer", "name", h.Port, "netns", sw},
		{"ip", "-n", sw, "link", "set", h.Port, "master", "br0"},
		{"ip", "-n", sw, "link", "set", h.Port, "up"},
		{"ip", "-n", h.Name, "addr", "add", h.Addr4.String(), "dev", h.Link},
		{"ip", "-n", h.Name, "addr", "add", h.Addr6.String(), "dev", h.Link, "nodad"},
		{"ip", "-n", h.Name, "link", "set", h.Link, "up"},
	}
	for _, s := range steps {
		if _, err := Run(s...); err != nil {
			return err
		}
	}
	return h.waitUp()
}

// waitUp waits, at most 5 s, until h's interface is up with its carrier.
func (h *Host) waitUp() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := Run("ip", "-n", h.Name, "link", "show", h.Link)
		if err == nil && strings.Contains(out, "LOWER_UP") && strings.Contains(out, "state UP") {
			return nil
		}
		if time.Now().After(deadline) {
			return &waitError{what: h.Name + " " + h.Link + " up", last: out}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type waitError struct{ what, last string }

func (e *waitError) Error() string {
	return "nstest: timed out waiting for " + e.what + "; last: " + e.last
}

// Path returns the path of h's namespace file, as vigil's configs take
// it (Netns).
func (h *Host) Path() string { return "/run/netns/" + h.Name }
