package vigildcmd

import (
	"slices"

	"github.com/vigil-ha/vigil"
)

// secretMask stands for a secret in everything vigild prints or
// writes: keepalived's mask for auth_pass (keepalived 2.4.0 on).
const secretMask = "********"

// redacted returns cfg with each secret it carries replaced by
// secretMask: the instances' auth_pass (vrrp.Config.AuthPass) and the
// bgp neighbors' TCP MD5 password (vigil.BGPPeer.Password). The SSL
// block's password is in no field (only the SSL_GET checks' client
// certificate loader holds it), and keepalived.conf carries no other
// credential vigil reads: no SMTP (unsupported), no HTTP check
// credentials (keepalived has none). cfg is left as it is: the slices
// and the BGP block that hold a secret are copied, the rest is shared,
// so the result is for printing only.
func redacted(cfg *vigil.Config) vigil.Config {
	c := *cfg
	c.Instances = slices.Clone(c.Instances)
	for i := range c.Instances {
		mask(&c.Instances[i].VRRP.AuthPass)
	}
	if c.BGP != nil {
		b := *c.BGP
		b.Peers = slices.Clone(b.Peers)
		for i := range b.Peers {
			mask(&b.Peers[i].Password)
		}
		c.BGP = &b
	}
	return c
}

// mask replaces a secret that is set with secretMask.
func mask(s *string) {
	if *s != "" {
		*s = secretMask
	}
}
