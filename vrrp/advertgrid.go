package vrrp

import "time"

// onGrid rounds the deadline t of the advert after one the Adver_Timer
// sent down to a multiple of the machine's grid (Timers.AdvertGrid; at
// most a tenth of the interval is used), so that a master's adverts fall
// on the grid from then on, each an interval apart as before: the
// masters of one process then share their wake-ups. A deadline moves
// earlier only, by less than the grid, and once per mastership (and per
// unaligned re-arm: a priority change, a reload).
func (m *Machine) onGrid(t time.Time) time.Time {
	g := min(m.grid, m.cfg.Interval/10)
	if g <= 0 {
		return t
	}
	r := t.UnixNano() % int64(g)
	if r < 0 {
		r += int64(g)
	}
	return t.Add(-time.Duration(r))
}
