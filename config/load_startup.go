package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// startupDelay is the handler of vrrp_startup_delay (afterBoot false)
// and vrrp_delay_after_boot: Global.StartupDelay becomes the longest of
// the delays given, as keepalived allows both. vrrp_delay_after_boot
// counts from the system's boot: its delay is what remains of it now, as
// keepalived computes it when it reads the file.
func (l *loader) startupDelay(afterBoot bool) handler {
	return func(s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		// keepalived's read_timer: 1 ms .. UINT_MAX µs.
		d, ok := l.secsArg(s, 1, 0.001, 4294.967295, time.Microsecond)
		if !ok {
			return
		}
		if afterBoot {
			up, err := l.uptime()
			if err != nil {
				l.warnf(s.Pos, "%s: cannot read the uptime (%v): ignored", s.Words[0], err)
				return
			}
			d -= up.Truncate(time.Microsecond)
		}
		g := &l.cfg.Global
		g.StartupDelay = max(g.StartupDelay, d)
		l.cur.why = "the instances stay in INIT until the delay is over (keepalived's show BACKUP, with no timer running)"

	}
}

// uptime is LoadOptions.Uptime, or /proc/uptime's first number.
func (l *loader) uptime() (time.Duration, error) {
	if l.opts.Uptime != nil {
		return l.opts.Uptime()
	}
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	fs := strings.Fields(string(b))
	if len(fs) == 0 {
		return 0, fmt.Errorf("/proc/uptime: empty")
	}
	f, err := strconv.ParseFloat(fs[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/uptime: %w", err)
	}
	return time.Duration(f * float64(time.Second)), nil
}
