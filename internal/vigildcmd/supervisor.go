package vigildcmd

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/metrics"
)

// Supervisor is what vigild needs of a vigil.Supervisor; the daemon's
// tests give a fake.
type Supervisor interface {
	Run(ctx context.Context) error
	Reload(ctx context.Context, cfg vigil.Config) (vigil.Changes, error)
	State() vigil.State
	Stats() vigil.Stats
	// Events subscribes to the Supervisor's events with a queue of n;
	// the channel is closed by cancel and when Run returns.
	Events(n int) (events <-chan vigil.Event, cancel func())
	// Collector is the Prometheus collector over the Supervisor.
	Collector() prometheus.Collector
	// Close releases a Supervisor that will not run.
	Close() error
}

// BuildOptions are what a Builder needs besides the Config.
type BuildOptions struct {
	// Netns is the network namespace file (/run/netns/NAME); empty means
	// vigild's own.
	Netns string
	// Logger is the platform's logger (the Config carries the
	// Supervisor's).
	Logger *slog.Logger
}

// A Builder makes the Supervisor for a configuration: the privileged
// part of vigild (sockets, netlink, IPVS). Linux is the real one.
type Builder func(cfg vigil.Config, o BuildOptions) (Supervisor, error)

// On builds a Supervisor for cfg on the platform p (vigiltest's in
// memory, for tests of the wiring).
func On(p vigil.Platform, cfg vigil.Config) (Supervisor, error) {
	s, err := vigil.New(p, cfg)
	if err != nil {
		return nil, err
	}
	return &supervisor{Supervisor: s, c: metrics.New(s, metrics.Config{})}, nil
}

// supervisor adapts a *vigil.Supervisor.
type supervisor struct {
	*vigil.Supervisor
	c *metrics.Collector
}

func (s *supervisor) Events(n int) (<-chan vigil.Event, func()) {
	sub := s.Subscribe(n)
	return sub.C(), sub.Close
}

func (s *supervisor) Collector() prometheus.Collector { return s.c }
