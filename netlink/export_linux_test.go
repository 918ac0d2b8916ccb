package netlink

import "context"

// SetResubscribeHook makes the watcher call f before each resubscription
// (not before the first subscription). Set it before Run.
func (w *Watcher) SetResubscribeHook(f func()) { w.beforeResubscribe = f }

// SetUpdateHook makes the watcher call f, with Run's context, before it
// applies each notification. Set it before Run.
func (w *Watcher) SetUpdateHook(f func(context.Context)) { w.beforeUpdate = f }
