package check

import (
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
	want := Policy{Interval: 60 * time.Second, Timeout: 5 * time.Second, RetryDelay: time.Second, Rise: 1, Fall: 1}
	if p := (Policy{}).withDefaults(); p != want {
		t.Errorf("defaults %+v, want %+v", p, want)
	}
	// Every negative value means off, and all say it the same way.
	off := Policy{Interval: -1, Timeout: -1, RetryDelay: -1, Rise: 1, Fall: 1, Warmup: -1}
	for _, p := range []Policy{
		{Interval: -1, Timeout: -1, Retries: -1, RetryDelay: -1, Rise: -1, Fall: -1, Warmup: -1},
		{Interval: -time.Hour, Timeout: -2, Retries: -3, RetryDelay: -4, Rise: -5, Fall: -6, Warmup: -7},
		off,
	} {
		if got := p.withDefaults(); got != off {
			t.Errorf("%+v: %+v, want %+v", p, got, off)
		}
		if got := p.withDefaults().withDefaults(); got != off {
			t.Errorf("%+v twice: %+v, want %+v", p, got, off)
		}
	}
}

// TestTrackerSetPolicy: the health and the streak carry over to new rise
// and fall counts.
func TestTrackerSetPolicy(t *testing.T) {
	tr := NewTracker(Policy{Fall: 3, Rise: 3})
	tr.Observe(false)
	tr.Observe(false)
	tr.SetPolicy(Policy{Fall: 2, Rise: 3, Alpha: true})
	if !tr.Healthy() {
		t.Fatal("SetPolicy changed the health")
	}
	if o := tr.Observe(false); o != Down {
		t.Fatalf("third failure under Fall 2: %v, want down", o)
	}
	tr.Observe(true)
	tr.SetPolicy(Policy{Rise: 4})
	for i, want := range []Outcome{Steady, Steady, Up} {
		if o := tr.Observe(true); o != want {
			t.Fatalf("pass %d, the %d after SetPolicy: %v, want %v", i+2, i+1, o, want)
		}
	}
}
