package vigil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vigil-ha/vigil/ipvs"
)

// validateLVSTimeouts reports the problems of c.Global.LVSTimeouts.
func validateLVSTimeouts(c *Config) []error {
	var errs []error
	for _, e := range leaves(c.Global.LVSTimeouts.Validate()) {
		var fe *ipvs.FieldError
		if errors.As(e, &fe) {
			errs = append(errs, invalid("global", "LVSTimeouts."+fe.Field, "%s", fe.Reason))
		}
	}
	return errs
}

// lvsAdmin applies the table-wide IPVS settings of Global: LVSFlush when
// Run starts, LVSTimeouts at the start and at each reload, and at Run's
// end LVSFlushOnStop and the original timeouts. It is the loop's (and
// Run's, before and after the loop).
type lvsAdmin struct {
	b    ipvs.Backend // nil until a setting needs it
	a    ipvs.Admin   // b's
	log  *slog.Logger
	orig *ipvs.Timeouts // the kernel's before the first change; nil: not read
}

// wants reports whether g has a setting that needs the table.
func (la *lvsAdmin) wants(g *Global) bool {
	return g.LVSFlush || g.LVSFlushOnStop || !g.LVSTimeouts.IsZero()
}

// open opens the platform's IPVS backend, if g needs it and it is not
// open yet. A backend without ipvs.Admin is an error wrapping
// ErrUnsupported.
func (la *lvsAdmin) open(p Platform, g *Global, log *slog.Logger) error {
	la.log = log
	if la.b != nil || !la.wants(g) {
		return nil
	}
	b, err := p.IPVS()
	if err != nil {
		return fmt.Errorf("vigil: lvs_flush, lvs_timeouts: %w", err)
	}
	a, ok := b.(ipvs.Admin)
	if !ok {
		b.Close()
		return fmt.Errorf("vigil: lvs_flush, lvs_timeouts: the platform's IPVS backend %T cannot flush or set timeouts: %w", b, errors.ErrUnsupported)
	}
	la.b, la.a = b, a
	return nil
}

// start flushes the table (LVSFlush) and sets the timeouts, when Run
// starts, before the virtual servers.
func (la *lvsAdmin) start(g Global) {
	if la.a == nil {
		return
	}
	if g.LVSFlush {
		if err := la.a.Flush(context.Background()); err != nil {
			la.log.Error("vigil: flush the IPVS table (lvs_flush)", "err", err)
		} else {
			la.log.Info("vigil: IPVS table flushed (lvs_flush)")
		}
	}
	la.setTimeouts(g.LVSTimeouts)
}

// reload applies g's timeouts: g's, or the originals when it sets none.
// A reload never flushes.
func (la *lvsAdmin) reload(p Platform, g Global) {
	if err := la.open(p, &g, la.log); err != nil {
		la.log.Error("vigil: reload", "err", err)
		return
	}
	la.setTimeouts(g.LVSTimeouts)
}

// stop flushes the table (LVSFlushOnStop, with virtual servers and
// without KeepIPVSOnExit) and restores the original timeouts, when Run
// ends, after the virtual servers have left.
func (la *lvsAdmin) stop(g Global, withVS bool) {
	if la.a == nil {
		return
	}
	if g.LVSFlushOnStop && withVS && !g.KeepIPVSOnExit {
		if err := la.a.Flush(context.Background()); err != nil {
			la.log.Error("vigil: flush the IPVS table (lvs_flush_on_stop)", "err", err)
		} else {
			la.log.Info("vigil: IPVS table flushed (lvs_flush_on_stop)")
		}
	}
	la.setTimeouts(ipvs.Timeouts{})
}

// setTimeouts sets want, its zero fields from the original timeouts
// (read first, once); a zero want restores the originals, if they were
// read.
func (la *lvsAdmin) setTimeouts(want ipvs.Timeouts) {
	if la.a == nil || want.IsZero() && la.orig == nil {
		return
	}
	ctx := context.Background()
	if la.orig == nil {
		orig, err := la.a.Timeouts(ctx)
		if err != nil {
			la.log.Error("vigil: read the IPVS timeouts (lvs_timeouts)", "err", err)
			return
		}
		la.orig = &orig
	}
	set := *la.orig
	if want.TCP != 0 {
		set.TCP = want.TCP
	}
	if want.TCPFin != 0 {
		set.TCPFin = want.TCPFin
	}
	if want.UDP != 0 {
		set.UDP = want.UDP
	}
	if err := la.a.SetTimeouts(ctx, set); err != nil {
		la.log.Error("vigil: set the IPVS timeouts (lvs_timeouts)", "timeouts", set.String(), "err", err)
		return
	}
	la.log.Info("vigil: IPVS timeouts set (lvs_timeouts)", "timeouts", set.String())
}

// close closes the backend.
func (la *lvsAdmin) close() {
	if la.b != nil {
		if err := la.b.Close(); err != nil {
			la.log.Warn("vigil: closing the IPVS backend of lvs_flush and lvs_timeouts", "err", err)
		}
		la.b, la.a = nil, nil
	}
}
