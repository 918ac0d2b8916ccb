package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(childMain(cfg)) // a service of TestEmbeddedNetns
	}
	goleak.VerifyTestMain(m)
}

// nextRound is the time of the first check round after t: a tracker's
// rounds start at 0 and every interval after.
func nextRound(t, interval time.Duration) time.Duration {
	return (t/interval + 1) * interval
}

// The demonstration in virtual time: every transition at the time RFC
// 5798 and the check policy give, and the VIP where it should be (run
// fails otherwise; the output shows where it was).
func TestEmbedded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := defaults
		var out bytes.Buffer
		got, err := run(context.Background(), &out, o)
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		adv, chk := o.Advert, o.Check
		pause := 5 * adv // the demo's pause between steps
		a, b := nodes[0].prio, nodes[1].prio
		// decided is when a tracker changes after its checker changed
		// at t: n rounds in a row (Fall or Rise) from the next one.
		decided := func(t time.Duration, n int) time.Duration { return nextRound(t, chk) + time.Duration(n-1)*chk }

		elected := masterDown(a, adv) // no adverts yet: A's own timer
		// A's /healthz fails: FAULT when Fall rounds failed; its
		// priority 0 makes B wait only Skew_Time.
		fault := decided(elected+pause, o.Fall)
		takeover1 := fault + skew(b, adv)
		// A heals: BACKUP when Rise rounds passed; it discards B's lower
		// adverts, so its Master_Down_Timer runs out.
		healed := decided(takeover1+pause, o.Rise)
		preempt1 := healed + masterDown(a, adv)
		// A loses its dependency: priority 90 when Fall rounds failed;
		// A advertises every adv from preempt1, and B (preempting)
		// discards the adverts of 90: it takes over one
		// Master_Down_Interval after the last advert of 150.
		depDown := decided(preempt1+pause, o.Fall)
		lastAdvert := preempt1 + (depDown-preempt1-1)/adv*adv
		takeover2 := lastAdvert + masterDown(b, adv)
		// A reaches it again: priority 150 when Rise rounds passed. Its
		// Master_Down_Timer was last set at B's last advert it accepted
		// (before depDown), with the Master_Down_Interval of priority 90.
		depUp := decided(takeover2+pause, o.Rise)
		lastAccepted := takeover2 + (depUp-takeover2-1)/adv*adv
		preempt2 := lastAccepted + masterDown(uint8(int(a)+dependencyWeight), adv)
		// A stops gracefully: priority 0, B waits Skew_Time.
		stopped := preempt2 + pause
		handover := stopped + skew(b, adv)

		ev := func(at time.Duration, node, what string) string { return fmt.Sprintf("%v %s %s", at, node, what) }
		inst := func(from, to, reason string, prio int) string {
			return fmt.Sprintf("VI_1 %-7s -> %-7s %-15s priority %d", from, to, reason, prio)
		}
		want := []string{
			ev(0, "B", inst("INIT", "BACKUP", "startup", 100)),
			ev(0, "A", inst("INIT", "BACKUP", "startup", 150)),
			ev(elected, "A", inst("BACKUP", "MASTER", "master-down", 150)),
			ev(fault, "A", "tracker healthz down: /healthz: 503 Service Unavailable"),
			ev(fault, "A", inst("MASTER", "FAULT", "fault", 150)),
			ev(takeover1, "B", inst("BACKUP", "MASTER", "master-resigned", 100)),
			ev(healed, "A", "tracker healthz up"),
			ev(healed, "A", inst("FAULT", "BACKUP", "fault-cleared", 150)),
			ev(preempt1, "A", inst("BACKUP", "MASTER", "master-down", 150)),
			ev(preempt1, "B", inst("MASTER", "BACKUP", "higher-priority", 100)),
			ev(depDown, "A", "tracker dependency down: dial tcp 192.0.2.3:5432: no route to host (simulated)"),
			ev(depDown, "A", "VI_1 effective priority now 90"),
			ev(takeover2, "B", inst("BACKUP", "MASTER", "master-down", 100)),
			ev(takeover2, "A", inst("MASTER", "BACKUP", "higher-priority", 90)),
			ev(depUp, "A", "tracker dependency up"),
			ev(depUp, "A", "VI_1 effective priority now 150"),
			ev(preempt2, "A", inst("BACKUP", "MASTER", "master-down", 150)),
			ev(preempt2, "B", inst("MASTER", "BACKUP", "higher-priority", 100)),
			ev(stopped, "A", inst("MASTER", "STOPPED", "shutdown", 150)),
			ev(handover, "B", inst("BACKUP", "MASTER", "master-resigned", 100)),
			ev(handover, "B", inst("MASTER", "STOPPED", "shutdown", 100)),
		}
		// The exact values, for the reader (100 ms adverts, 200 ms checks).
		for _, at := range []struct{ got, want time.Duration }{
			{elected, 341406250}, {fault, 1200 * time.Millisecond}, {takeover1, 1260937500},
			{healed, 2 * time.Second}, {preempt1, 2341406250}, {depDown, 3200 * time.Millisecond},
			{takeover2, 3502343750}, {depUp, 4400 * time.Millisecond}, {preempt2, 4667187500},
			{handover, 5228125000},
		} {
			if at.got != at.want {
				t.Errorf("computed %v, want %v", at.got, at.want)
			}
		}
		if !sameEvents(got, want) {
			t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		inOrder(t, out.String(),
			"elected: A holds 192.0.2.100/24 (VIP on A=true B=false)",
			`a client's GET http://192.0.2.100:8080/healthz: "A: ok"`,
			"takeover: B holds 192.0.2.100/24 (VIP on A=false B=true)",
			`a client's GET http://192.0.2.100:8080/healthz: "B: ok"`,
			`GET /state on A: {"instances":[{"name":"VI_1","interface":"eth0","vrid":51,"state":"FAULT","priority":150,"effective_priority":150,`,
			`"faults":["tracker:healthz"]`,
			"preempted: A holds 192.0.2.100/24 (VIP on A=true B=false)",
			`a client's GET http://192.0.2.100:8080/healthz: "A: ok"`,
			"takeover: B holds 192.0.2.100/24 (VIP on A=false B=true)",
			`a client's GET http://192.0.2.100:8080/healthz: "B: ok"`,
			"preempted: A holds 192.0.2.100/24 (VIP on A=true B=false)",
			`a client's GET http://192.0.2.100:8080/healthz: "A: ok"`,
			"handover: B holds 192.0.2.100/24 (VIP on A=false B=true)",
			`a client's GET http://192.0.2.100:8080/healthz: "B: ok"`,
		)
	})
}

// sameEvents compares transcripts: the same lines in the same order,
// except that the order of events of one instant on different nodes is
// not defined.
func sameEvents(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	key := func(l string) string { at, _, _ := strings.Cut(l, " "); return at }
	for i := 0; i < len(want); {
		j := i + 1
		for j < len(want) && key(want[j]) == key(want[i]) {
			j++
		}
		g, w := slices.Clone(got[i:j]), slices.Clone(want[i:j])
		// Within an instant one node's events keep their order.
		for _, n := range []string{"A", "B"} {
			if !slices.Equal(byNode(g, n), byNode(w, n)) {
				return false
			}
		}
		i = j
	}
	return true
}

func byNode(ls []string, node string) []string {
	var out []string
	for _, l := range ls {
		if f := strings.Fields(l); len(f) > 1 && f[1] == node {
			out = append(out, l)
		}
	}
	return out
}

func TestEmbeddedRejectsBadInterval(t *testing.T) {
	if _, err := run(context.Background(), &bytes.Buffer{}, options{Advert: 15 * time.Millisecond, Check: time.Second}); err == nil {
		t.Fatal("15ms adverts accepted")
	}
}

// inOrder fails t unless s has every one of wants, in that order.
func inOrder(t *testing.T, s string, wants ...string) {
	t.Helper()
	last := 0
	for _, want := range wants {
		i := strings.Index(s[last:], want)
		if i < 0 {
			t.Fatalf("output lacks %q after offset %d:\n%s", want, last, s)
		}
		last += i + len(want)
	}
}
