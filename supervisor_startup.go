package vigil

import "time"

// startupDone is the message that ends Global.StartupDelay.
type startupDone struct{}

// delayStart holds the routers back for Global.StartupDelay, if any: a
// timer tells the loop when it is over. s.mu held, on the loop.
func (s *Supervisor) delayStart() {
	d := s.cfg.Global.StartupDelay
	if d <= 0 {
		return
	}
	s.delaying = true
	s.log.Info("vigil: delaying the instances' start", "delay", d)
	t := time.NewTimer(d)
	s.fwd.Go(func() {
		defer t.Stop()
		select {
		case <-t.C:
			s.in.put(startupDone{})
		case <-s.quit:
		}
	})
}

// endDelay starts the routers held back by delayStart. s.mu held.
func (s *Supervisor) endDelay() {
	s.delaying = false
	s.log.Info("vigil: the startup delay is over")
	s.startReady()
}
