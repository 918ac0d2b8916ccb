package vrrp

import "time"

// nextAdver is the Adver_Timer's deadline after the one at deadline
// expired at now: an interval later, on the grid, or an interval after
// now if we ran late (no catch-up burst).
func nextAdver(deadline, now time.Time, interval, grid time.Duration) time.Time {
	next := onGrid(deadline.Add(interval), grid, interval)
	if !next.After(now) {
		next = onGrid(now.Add(interval), grid, interval)
	}
	return next
}

// onGrid rounds the deadline t of the advert after one the Adver_Timer
// sent down to a multiple of grid (the machine's: Timers.AdvertGrid; at
// most a tenth of the interval is used), so that a master's adverts fall
// on the grid from then on, each an interval apart as before: the
// masters of one process then share their wake-ups. A deadline moves
// earlier only, by less than the grid, and once per mastership (and per
// unaligned re-arm: a priority change, a reload).
func onGrid(t time.Time, grid, interval time.Duration) time.Time {
	g := min(grid, interval/10)
	if g <= 0 {
		return t
	}
	r := t.UnixNano() % int64(g)
	if r < 0 {
		r += int64(g)
	}
	return t.Add(-time.Duration(r))
}
