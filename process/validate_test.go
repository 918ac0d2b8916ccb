package process

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := Spec{Name: "a", Process: "nginx"}
	if err := (Config{Specs: []Spec{ok}}).Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // FieldError messages, all of them
	}{
		{"no specs", Config{}, []string{"process: config: Specs: none, want at least one"}},
		{"empty spec", Config{Specs: []Spec{{}}}, []string{
			"process: spec #0: Name: empty",
			"process: spec #0: Process: empty",
		}},
		{"duplicate", Config{Specs: []Spec{ok, ok}}, []string{`process: spec a: Name: "a" is used by an earlier spec`}},
		{"long comm", Config{Specs: []Spec{{Name: "b", Process: "a-sixteen-bytes!"}}}, []string{
			`process: spec b: Process: "a-sixteen-bytes!" is longer than a process name can be (15 bytes): set FullCommand to match argv[0]`,
		}},
		{"NULs", Config{Specs: []Spec{{Name: "b", Process: "x\x00", Params: []string{"a", "b\x00"}}}}, []string{
			"process: spec b: Process: contains a NUL byte",
			"process: spec b: Params: parameter 1 contains a NUL byte",
		}},
		{"param match", Config{Specs: []Spec{{Name: "b", Process: "x", ParamMatch: 9}}}, []string{"process: spec b: ParamMatch: unknown value 9"}},
		{"quorum above max", Config{Specs: []Spec{{Name: "b", Process: "x", Quorum: 3, QuorumMax: 2}}}, []string{"process: spec b: Quorum: 3 is above QuorumMax 2"}},
		{"quorum with none allowed", Config{Specs: []Spec{{Name: "b", Process: "x", Quorum: 1, QuorumMax: -1}}}, []string{"process: spec b: Quorum: 1 is above QuorumMax 0"}},
		{"always up", Config{Specs: []Spec{{Name: "b", Process: "x", Quorum: -1}}}, []string{
			"process: spec b: Quorum: none required and QuorumMax unlimited: the state could never be down",
		}},
	} {
		err := tc.cfg.Validate()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
			continue
		}
		if got := strings.Split(err.Error(), "\n"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: no *FieldError", tc.name)
		}
	}
	// Long names are fine on the command line; none required is fine
	// with a maximum.
	for _, s := range []Spec{
		{Name: "c", Process: "/usr/local/sbin/haproxy-wrapper", FullCommand: true},
		{Name: "d", Process: "x", QuorumMax: -1},
		{Name: "e", Process: "x", Quorum: -1, QuorumMax: 3},
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if _, err := newTracker(Config{}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("newTracker with an invalid config: %v", err)
	}
}
