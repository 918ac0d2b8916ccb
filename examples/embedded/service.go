package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vrrp"
)

// The VRRP instance both services run, and its virtual IP.
var vip = netip.MustParsePrefix("192.0.2.100/24")

const (
	instanceName = "VI_1"
	vrid         = 51
	// dependencyWeight is what losing the dependency costs: enough to put
	// A (150) under B (100), not enough to fault anyone.
	dependencyWeight = -60
	// httpPort is the services' HTTP port.
	httpPort = 8080
)

// options are the timings both services share.
type options struct {
	// Advert is the VRRPv3 advertisement interval.
	Advert time.Duration
	// Check is the interval of the health and dependency checks; they
	// fail after Fall failed rounds and recover after Rise passed ones.
	Check      time.Duration
	Fall, Rise int
}

// validate checks what the flags can get wrong.
func (o options) validate() error {
	if o.Advert < vrrp.MinIntervalV3 || o.Advert > vrrp.MaxIntervalV3 || o.Advert%(10*time.Millisecond) != 0 {
		return fmt.Errorf("advert interval %v: want whole centiseconds in 10ms..40.95s", o.Advert)
	}
	if o.Check <= 0 {
		return fmt.Errorf("check interval %v: want a positive one", o.Check)
	}
	return nil
}

// policy is the check policy of both trackers: keepalived's vrrp_script
// interval, timeout, fall and rise.
func (o options) policy() check.Policy {
	return check.Policy{Interval: o.Check, Timeout: o.Check / 2, Fall: o.Fall, Rise: o.Rise}
}

// service is the HTTP service that embeds a Supervisor: it serves
// /healthz (failing while unhealthy is set) and /state (the Supervisor's
// State as JSON), and its Supervisor holds the VIP only while /healthz
// passes and the dependency is reachable.
type service struct {
	name      string
	unhealthy atomic.Bool
	sup       *vigil.Supervisor
	mux       *http.ServeMux
}

func newService(name string) *service {
	s := &service{name: name, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /state", s.state)
	return s
}

// ServeHTTP serves /healthz and /state.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *service) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.unhealthy.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s: unhealthy\n", s.name)
		return
	}
	fmt.Fprintf(w, "%s: ok\n", s.name)
}

func (s *service) state(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Node", s.name)
	if s.sup == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	json.NewEncoder(w).Encode(s.sup.State())
}

// inMemoryHealth is the health tracker's checker without a network: it
// calls the service's own /healthz handler.
func (s *service) inMemoryHealth() check.Checker {
	return check.CheckerFunc(func(context.Context) error {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != http.StatusOK {
			return fmt.Errorf("/healthz: %d %s", rec.Code, http.StatusText(rec.Code))
		}
		return nil
	})
}

// config is the service's Supervisor configuration: one VRRP instance on
// iface, tracking two checks with keepalived's two rules.
//
//	vrrp_script healthz    { script "GET /healthz"; weight 0 }   # FAULT while failing
//	vrrp_script dependency { script "tcp DB:5432";  weight -60 } # priority -60 while failing
func config(prio uint8, iface string, o options, health, dependency check.Checker) vigil.Config {
	p := o.policy()
	return vigil.Config{
		Trackers: []vigil.Tracker{
			// Weight 0: while its own health fails the instance is in
			// FAULT: it resigns at once (priority 0) and holds no VIP.
			{Name: "healthz", Weight: 0, Check: &vigil.TrackerCheck{Checker: health, Policy: p}},
			// A negative weight: while the dependency is unreachable the
			// priority drops, so a peer that reaches it wins; if every
			// node loses it, the master keeps the VIP.
			{Name: "dependency", Weight: dependencyWeight, Check: &vigil.TrackerCheck{Checker: dependency, Policy: p}},
		},
		Instances: []vigil.Instance{{
			InstanceConfig: vigil.InstanceConfig{Interface: iface, VRRP: vrrp.Config{
				Name: instanceName, VRID: vrid, Version: vrrp.V3, Priority: prio, Interval: o.Advert,
				VIPs: []netip.Prefix{vip},
			}},
			Track: []vigil.Track{{Tracker: "healthz"}, {Tracker: "dependency"}},
		}},
	}
}

// notify follows the Supervisor's events until Run returns (keepalived's
// notify scripts, as a Go function): on is called with each one.
func notify(sub *vigil.Subscription, on func(vigil.Event)) {
	for e := range sub.C() {
		on(e)
	}
}

// describe renders an event as one log line.
func describe(e vigil.Event) string {
	switch e.Kind {
	case vigil.EventInstance:
		return fmt.Sprintf("%s %-7v -> %-7v %-15s priority %d", e.Instance, e.From, e.To, e.Reason, e.Priority)
	case vigil.EventPriority:
		return fmt.Sprintf("%s effective priority now %d", e.Instance, e.Priority)
	case vigil.EventTracker:
		if e.Up {
			return fmt.Sprintf("tracker %s up", e.Tracker)
		}
		return fmt.Sprintf("tracker %s down: %s", e.Tracker, e.Err)
	}
	return e.Kind.String()
}
