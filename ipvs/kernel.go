package ipvs

import (
	"errors"
	"log/slog"
)

// KernelConfig says where the kernel backend (Open) works.
type KernelConfig struct {
	// Netns is the network namespace whose IPVS table is used, as a path
	// ("/var/run/netns/lb", "/proc/1234/ns/net"). Empty: the namespace of
	// the calling thread.
	Netns string
	// Logger receives debug records (open, close). Nil: no logging.
	Logger *slog.Logger
}

// ErrStaleFamily means the process resolved the IPVS generic-netlink
// family before the ip_vs module was loaded (or before it was reloaded):
// github.com/moby/ipvs resolves it once per process, so this process
// cannot reach the kernel's IPVS. Restart the process. Open only lets
// moby/ipvs resolve the family once it is present, so this happens only
// when something else in the process used moby/ipvs first.
var ErrStaleFamily = errors.New("ipvs: this process resolved the IPVS netlink family before ip_vs was loaded (github.com/moby/ipvs caches it once per process); restart the process")

var _ Backend = (*Kernel)(nil)
