package vigil_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/process"
)

// TestConfigValidate: every problem is reported at once, each naming its
// object and field, each wrapping ErrInvalid.
func TestConfigValidate(t *testing.T) {
	var f flag
	bad := vigil.Config{
		Trackers: []vigil.Tracker{
			{Name: "ok", Check: &vigil.TrackerCheck{Checker: &f}},
			{Name: "ok", Check: &vigil.TrackerCheck{Checker: &f}},
			{Name: "none"},
			{Name: "two", Check: &vigil.TrackerCheck{Checker: &f}, File: &vigil.TrackerFile{Path: "/x"}},
			{Name: "nilchk", Check: &vigil.TrackerCheck{}},
			{Name: "badtcp", Check: &vigil.TrackerCheck{Checker: &check.TCP{}}},
			{Name: "heavy", Check: &vigil.TrackerCheck{Checker: &f}, Weight: 254},
			{Name: "nopath", File: &vigil.TrackerFile{}},
			{Name: "proc", Process: &process.Spec{}},
		},
		Instances: []vigil.Instance{
			supInst("VI_1", 51, 100, vipX),
			supInst("VI_1", 52, 100, vipX),
			supInst("VI_3", 51, 100, vipX),
			{InstanceConfig: vigil.InstanceConfig{VRRP: supInst("VI_4", 0, 100).VRRP}},
		},
		SyncGroups: []vigil.SyncGroup{
			{Name: "G", Members: []string{"VI_3", "VI_9"}},
			{Name: "H", Members: []string{"VI_3"}, Track: []vigil.Track{{Tracker: "nope"}}},
			{Name: "E"},
		},
	}
	bad.Instances[0].Track = []vigil.Track{{Tracker: "missing"}, {Tracker: "ok", Weight: 300, WeightSet: true}}
	bad.Instances[0].TrackInterfaces = []vigil.TrackInterface{{}}
	err := bad.Validate()
	want := []string{
		"vigil: tracker ok: Name: given twice",
		"vigil: tracker none: Check: exactly one of Check, File and Process must be set, not 0",
		"vigil: tracker two: Check: exactly one of Check, File and Process must be set, not 2",
		"vigil: tracker nilchk: Check.Checker: nil",
		"vigil: tracker badtcp: Check.Checker: check: tcp",
		"vigil: tracker heavy: Weight: 254 is outside -253..253",
		"vigil: tracker nopath: File.Path: empty",
		"vigil: tracker proc: Process: process:",
		"vigil: instance VI_1: Track[0].Tracker: no tracker named \"missing\"",
		"vigil: instance VI_1: Track[1].Weight: 300 is outside -254..254",
		"vigil: instance VI_1: TrackInterfaces[0].Interface: empty",
		"vigil: instance VI_1: VRRP.Name: given twice",
		"vigil: instance VI_3: VRRP.VRID: VRID 51 on eth0 (IPv6 false) is also instance VI_1's",
		"vigil: instance VI_4: Interface: empty",
		"vigil: instance VI_4: VRRP.VRID:",
		"vigil: sync group G: Members[1]: no instance named \"VI_9\"",
		"vigil: sync group H: Members[0]: instance VI_3 is also in sync group G",
		"vigil: sync group H: Track[0].Tracker: no tracker named \"nope\"",
		"vigil: sync group E: Members: empty",
	}
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	lines := strings.Split(msg, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, w)
		}
		if !found {
			t.Errorf("missing %q", w)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(lines), len(want), msg)
	}
	var fe *vigil.FieldError
	if !errors.Is(err, vigil.ErrInvalid) || !errors.As(err, &fe) {
		t.Errorf("%v does not wrap ErrInvalid / FieldError", err)
	}
	// New refuses it, naming the same problems.
	hub := newHub()
	p := newMemPlatform(t, hub, 1)
	if _, err := vigil.New(p, bad); !errors.Is(err, vigil.ErrInvalid) {
		t.Errorf("New: %v", err)
	}
	good := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}}
	if err := good.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
