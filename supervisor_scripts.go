package vigil

import (
	"context"

	"github.com/vigil-ha/vigil/notify"
)

// runGlobalScript runs Global.StartupScript or ShutdownScript (what
// says which) and waits for it, as keepalived's parent does
// (run_startup_script, the shutdown script's run in stop_keepalived):
// its exit status is logged, never an error of Run.
func (s *Supervisor) runGlobalScript(ctx context.Context, what string, sc *notify.Script) {
	if sc == nil {
		return
	}
	s.log.Info("vigil: running the "+what+" script", "script", sc.String())
	res, err := sc.Run(ctx)
	switch {
	case err != nil:
		s.log.Error("vigil: "+what+" script not run", "script", sc.String(), "err", err)
	case !res.OK():
		s.log.Warn("vigil: "+what+" script failed", "script", sc.String(), "result", res.String())
	default:
		s.log.Info("vigil: "+what+" script done", "script", sc.String())
	}
}
