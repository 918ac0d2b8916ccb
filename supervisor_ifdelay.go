package vigil

import (
	"time"

	"github.com/vigil-ha/vigil/netlink"
)

// ifDelays is the Supervisor's state of Config.InterfaceDelays.
type ifDelays struct {
	pending map[string]*pendingIface // by interface
	seenUp  map[string]bool          // seen up since the start or its removal
	seq     uint64
	apply   bool // a delayed change is being applied: hold nothing
}

// pendingIface is a change of an interface waiting out its delay.
type pendingIface struct {
	up     bool
	seq    uint64
	cancel chan struct{}
}

// ifDelayDone is the message that ends the delay of change seq.
type ifDelayDone struct {
	iface string
	seq   uint64
}

// holdIface reports whether interface event e is held back by its
// interface's delay (Config.InterfaceDelays), as keepalived's
// update_interface_flags: a change of a known interface seen up before
// waits for its delay; the opposite change cancels it; a removal acts at
// once. s.mu held, on the loop.
func (s *Supervisor) holdIface(e netlink.Event) bool {
	d := &s.ifd
	if d.apply {
		return false
	}
	var up bool
	switch e.Kind {
	case netlink.InterfaceUp:
		up = true
	case netlink.InterfaceDown:
	case netlink.InterfaceAdded:
		up = e.Up
	case netlink.InterfaceRemoved:
		d.cancel(e.Interface)
		delete(d.seenUp, e.Interface)
		return false
	default:
		return false
	}
	if p := d.pending[e.Interface]; p != nil {
		if p.up == up {
			return true
		}
		d.cancel(e.Interface)
		s.log.Info("vigil: interface change cancelled", "interface", e.Interface, "up", up)
	}
	was, known := s.ifaces[e.Interface]
	delay := interfaceDelays(&s.cfg)[e.Interface].Down
	if up {
		delay = interfaceDelays(&s.cfg)[e.Interface].Up
	}
	if !known || was == up || delay <= 0 || !d.seenUp[e.Interface] {
		if up {
			d.mark(e.Interface)
		}
		return false
	}
	d.seq++
	p := &pendingIface{up: up, seq: d.seq, cancel: make(chan struct{})}
	if d.pending == nil {
		d.pending = map[string]*pendingIface{}
	}
	d.pending[e.Interface] = p
	s.log.Info("vigil: interface change delayed", "interface", e.Interface, "up", up, "delay", delay)
	t := time.NewTimer(delay)
	msg := ifDelayDone{e.Interface, p.seq}
	s.fwd.Go(func() {
		defer t.Stop()
		select {
		case <-t.C:
			s.in.put(msg)
		case <-p.cancel:
		case <-s.quit:
		}
	})
	return true
}

// ifDelayDone applies a change that has waited out its delay. s.mu held.
func (s *Supervisor) ifDelayDone(msg ifDelayDone) {
	d := &s.ifd
	p := d.pending[msg.iface]
	if p == nil || p.seq != msg.seq {
		return // cancelled meanwhile
	}
	delete(d.pending, msg.iface)
	kind := netlink.InterfaceDown
	if p.up {
		kind = netlink.InterfaceUp
	}
	d.apply = true
	s.platformEvent(netlink.Event{Kind: kind, Interface: msg.iface, Up: p.up})
	d.apply = false
	if p.up {
		d.mark(msg.iface)
	}
}

// cancel drops the pending change of iface, if any.
func (d *ifDelays) cancel(iface string) {
	if p := d.pending[iface]; p != nil {
		close(p.cancel)
		delete(d.pending, iface)
	}
}

// mark records that iface was seen up.
func (d *ifDelays) mark(iface string) {
	if d.seenUp == nil {
		d.seenUp = map[string]bool{}
	}
	d.seenUp[iface] = true
}
