package ipvs

import "log/slog"

// KernelConfig says where the kernel backend (Open) works.
type KernelConfig struct {
	// Netns is the network namespace whose IPVS table is used, as a path
	// to a namespace file: /run/netns/NAME (what `ip netns add NAME`
	// makes) or /proc/PID/ns/net. Empty means the namespace of the thread
	// that calls Open.
	Netns string
	// Logger receives debug records (open, close); nil discards them.
	Logger *slog.Logger
}

var _ Backend = (*Kernel)(nil)
