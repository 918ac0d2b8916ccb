package config

// vsFree keeps the definitions of the last virtual server's real servers
// and checkers for the next one: they are read into vigil's types when
// the virtual server ends (finishVS) and nothing keeps them after, so a
// file of 30,000 real servers allocates them once per virtual server's
// worth instead of once each.
type vsFree struct {
	rss  []*rsDef
	chks []*chkDef
}

// rs returns a zero rsDef.
func (f *vsFree) rs() *rsDef {
	n := len(f.rss)
	if n == 0 {
		return &rsDef{}
	}
	r := f.rss[n-1]
	f.rss = f.rss[:n-1]
	checks := r.checks[:0]
	*r = rsDef{}
	r.checks = checks
	return r
}

// chk returns a zero chkDef.
func (f *vsFree) chk() *chkDef {
	n := len(f.chks)
	if n == 0 {
		return &chkDef{}
	}
	c := f.chks[n-1]
	f.chks = f.chks[:n-1]
	*c = chkDef{}
	return c
}

// release takes back d's real servers and their checkers, once d is
// finished (the checkers made from them keep no pointer to them).
func (f *vsFree) release(d *vsDef) {
	for _, r := range d.rss {
		f.chks = append(f.chks, r.checks...)
		clear(r.checks)
		f.rss = append(f.rss, r)
	}
	clear(d.rss)
	d.rss = nil
}
