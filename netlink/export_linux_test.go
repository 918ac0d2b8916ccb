package netlink

// SetResubscribeHook makes the watcher call f before each resubscription
// (not before the first subscription). Set it before Run.
func (w *Watcher) SetResubscribeHook(f func()) { w.beforeResubscribe = f }
