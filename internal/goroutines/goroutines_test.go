package goroutines

import (
	"sync"
	"testing"
	"testing/synctest"
)

func TestParse(t *testing.T) {
	in := `goroutine 21 [running, synctest bubble 20]:
main.f()
	/src/x.go:10 +0x1d
created by main.g in goroutine 20
	/src/x.go:20 +0x25

goroutine 1 [chan receive, 2 minutes]:
main.main()
	/src/x.go:30 +0x44

goroutine 22 [select (durable), synctest bubble 20]:
main.h()
	/src/x.go:40 +0x10
created by main.f in goroutine 21
	/src/x.go:12 +0x25
`
	gs, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, parent, bubble int }{{21, 20, 20}, {1, 0, 0}, {22, 21, 20}}
	if len(gs) != len(want) {
		t.Fatalf("%d goroutines, want %d: %+v", len(gs), len(want), gs)
	}
	for i, w := range want {
		if g := gs[i]; g.ID != w.id || g.Parent != w.parent || g.Bubble != w.bubble {
			t.Errorf("goroutine %d: id %d parent %d bubble %d, want %d %d %d", i, g.ID, g.Parent, g.Bubble, w.id, w.parent, w.bubble)
		}
	}
	if got := under(gs, "main.f()"); got != 2 {
		t.Errorf("under main.f: %d, want 2 (it and the goroutine it started)", got)
	}
	for _, bad := range []string{"gorout 1 [running]:\n", "goroutine x [running]:\n", "goroutine 1 running\n",
		"goroutine 1 [running, synctest bubble y]:\n", "goroutine 2 [running]:\nf()\ncreated by f in goroutine z\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

// InBubble counts the bubble's goroutines only: the one started outside
// it, alive all along, is not counted.
func TestInBubble(t *testing.T) {
	outside := make(chan struct{})
	defer close(outside)
	go func() { <-outside }()
	synctest.Test(t, func(t *testing.T) {
		base := InBubble() // the test's and synctest's own
		if all := len(Snapshot()); base >= all {
			t.Fatalf("InBubble %d of the process's %d goroutines: the one outside counted", base, all)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { <-stop })
		}
		synctest.Wait()
		if n := InBubble(); n != base+3 {
			t.Errorf("InBubble with 3 more: %d, want %d", n, base+3)
		}
		close(stop)
		wg.Wait()
	})
}

// Under counts a goroutine, those it started and those they started,
// not its siblings.
func TestUnder(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	ready := make(chan struct{}, 4)
	wg.Go(func() { ready <- struct{}{}; <-stop }) // a sibling, not counted
	wg.Go(func() { treeRoot(&wg, stop, ready) })
	for range 4 {
		<-ready
	}
	if n := Under("goroutines.treeRoot("); n != 3 {
		t.Errorf("Under(treeRoot): %d, want 3 (the root, its child, its grandchild)", n)
	}
}

func treeRoot(wg *sync.WaitGroup, stop chan struct{}, ready chan struct{}) {
	wg.Go(func() {
		wg.Go(func() { ready <- struct{}{}; <-stop })
		ready <- struct{}{}
		<-stop
	})
	ready <- struct{}{}
	<-stop
}
