package check

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	// Attempts: + passed, - failed. Outcomes: r retry, . steady, U up, D down.
	tests := []struct {
		name     string
		p        Policy
		attempts string
		want     string
	}{
		{"defaults: one failure is enough", Policy{}, "+-+-", ".DUD"},
		{"fall 3", Policy{Fall: 3}, "---", "..D"},
		{"fall 3, interrupted", Policy{Fall: 3}, "--+---", ".....D"},
		{"rise 2 after fall", Policy{Fall: 1, Rise: 2}, "-+-++", "D...U"},
		{"alpha starts down", Policy{Alpha: true}, "+", "U"},
		{"alpha rise 3", Policy{Alpha: true, Rise: 3}, "++-+++", ".....U"},
		{"alpha failures stay down", Policy{Alpha: true}, "---", "..."},
		{"retries", Policy{Retries: 2}, "---", "rrD"},
		{"retry then pass", Policy{Retries: 2}, "--+---", "rr.rrD"},
		{"retries with fall 2", Policy{Retries: 1, Fall: 2}, "----", "r.rD"},
		{"no retries while down", Policy{Retries: 2}, "----+", "rrD.U"},
		{"alpha, no retries", Policy{Alpha: true, Retries: 3}, "-+", ".U"},
		{"flapping never reaches fall", Policy{Fall: 2, Rise: 2}, "-+-+-+", "......"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.p)
			if tr.Healthy() == tt.p.Alpha {
				t.Fatalf("starts healthy=%t with alpha=%t", tr.Healthy(), tt.p.Alpha)
			}
			var got strings.Builder
			for _, a := range tt.attempts {
				o := tr.Observe(a == '+')
				got.WriteByte(map[Outcome]byte{Retry: 'r', Steady: '.', Up: 'U', Down: 'D'}[o])
				if (o == Up && !tr.Healthy()) || (o == Down && tr.Healthy()) {
					t.Fatalf("outcome %v but Healthy() = %t", o, tr.Healthy())
				}
			}
			if got.String() != tt.want {
				t.Errorf("attempts %s: got %s, want %s", tt.attempts, got.String(), tt.want)
			}
		})
	}
	if s := Outcome(0).String(); s != "Outcome(0)" || Down.String() != "down" {
		t.Errorf("String: %q, %q", s, Down)
	}
}

func TestPolicyDefaults(t *testing.T) {
	p, err := Policy{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{Interval: 60 * time.Second, Timeout: 5 * time.Second, RetryDelay: time.Second, Rise: 1, Fall: 1}
	if p != want {
		t.Errorf("defaults %+v, want %+v", p, want)
	}
	for _, bad := range []Policy{
		{Interval: -1}, {Timeout: -1}, {Retries: -1}, {RetryDelay: -1}, {Rise: -1}, {Fall: -1}, {Warmup: -1},
	} {
		if _, err := bad.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", bad, err)
		}
	}
}
