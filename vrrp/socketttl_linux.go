//go:build linux

package vrrp

// connOptions checks cfg's Group and TTL for a Conn on a socket of the
// family v6, naming obj in the *FieldErrors.
func connOptions(obj string, cfg *ConnConfig, v6 bool) error {
	if g := cfg.Group.Unmap(); g.IsValid() && (!g.IsMulticast() || is6(g) != v6) {
		return invalid(obj, "Group", "%v is not a multicast address of the %s family", g, family(v6))
	}
	switch {
	case cfg.TTL < 0 || cfg.TTL > 255:
		return invalid(obj, "TTL", "%d, want 1..255 (0: %d)", cfg.TTL, TTL)
	case cfg.TTL != 0 && len(cfg.Peers) == 0:
		return invalid(obj, "TTL", "a TTL other than %d needs unicast peers", TTL)
	}
	return nil
}
