package vigil

import "github.com/vigil-ha/vigil/host"

// The Host and its Platform live in package host, which a program that
// runs VRRP alone imports without linking the Supervisor and the
// checkers; the Supervisor is built on the same types, named here too.

type (
	// Host runs VRRP instances on a Platform: see host.Host.
	Host = host.Host
	// HostConfig configures a Host: see host.Config.
	HostConfig = host.Config
	// InstanceConfig is one VRRP instance on a Host or in a Config:
	// see host.InstanceConfig.
	InstanceConfig = host.InstanceConfig
	// Platform is what a host provides to the wiring: see host.Platform.
	Platform = host.Platform
	// InstanceIO is what Platform.Instance opens: see host.InstanceIO.
	InstanceIO = host.InstanceIO
	// Events is a subscription to a platform's events: see host.Events.
	Events = host.Events
	// StaticIO is what Platform.Static opens: see host.StaticIO.
	StaticIO = host.StaticIO
	// SocketName names a VRRP socket in Stats.Sockets: see
	// host.SocketName.
	SocketName = host.SocketName
	// NFTables is the nftables table that enforces no_accept: see
	// host.NFTables.
	NFTables = host.NFTables
)

// DefaultVMACPrefix is InstanceConfig.VMACPrefix's default.
const DefaultVMACPrefix = host.DefaultVMACPrefix

// NewHostOn makes a Host for cfg's instances on platform p: host.NewOn.
func NewHostOn(p Platform, cfg HostConfig) (*Host, error) { return host.NewOn(p, cfg) }
