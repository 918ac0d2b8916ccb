package vrrp

// noPeerFault reports whether c holds its router in FAULT for want of
// unicast peers (UnicastFaultNoPeer).
func (c *Config) noPeerFault() bool { return c.UnicastFaultNoPeer && len(c.Peers) == 0 }
