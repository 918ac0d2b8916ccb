package vigil

import "github.com/vigil-ha/vigil/host"

type (
	// LinuxConfig configures the Linux platform: see host.LinuxConfig.
	LinuxConfig = host.LinuxConfig
	// Linux is the Platform of a Linux host: see host.Linux.
	Linux = host.Linux
)

// NewHost opens the instances of cfg on this Linux host: host.New.
func NewHost(cfg HostConfig) (*Host, error) { return host.New(cfg) }

// OpenLinux opens the Linux platform: host.OpenLinux.
func OpenLinux(cfg LinuxConfig) (*Linux, error) { return host.OpenLinux(cfg) }
