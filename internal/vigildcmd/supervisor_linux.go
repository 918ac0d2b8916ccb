//go:build linux

package vigildcmd

import "github.com/vigil-ha/vigil"

// Linux builds a Supervisor on this host's kernel (vigil.OpenLinux in
// o.Netns).
func Linux(cfg vigil.Config, o BuildOptions) (Supervisor, error) {
	p, err := vigil.OpenLinux(vigil.LinuxConfig{Netns: o.Netns, NFTables: cfg.Global.NFTables, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return On(p, cfg)
}
