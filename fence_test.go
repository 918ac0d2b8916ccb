package vigil

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"weak"
)

// An announcement's context, once it ends, is no longer held by the
// router's fence: a router that becomes master again and again must not
// keep every past announcement (TestFenceSpanLetsGo), while a context
// that has not ended is canceled when the fence closes.
func TestFenceSpanLetsGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFence()
		defer f.close()
		type key struct{}
		var held []weak.Pointer[[64]byte]
		for range 100 {
			big := new([64]byte)
			held = append(held, weak.Make(big))
			parent, end := context.WithCancel(context.WithValue(context.Background(), key{}, big))
			ctx := f.spanCtx(parent)
			end() // the router leaves MASTER
			<-ctx.Done()
		}
		synctest.Wait() // the AfterFuncs' goroutines
		runtime.GC()
		for i, w := range held {
			if w.Value() != nil {
				t.Fatalf("announcement %d's context is still reachable after it ended", i)
			}
		}
		live := f.spanCtx(context.Background())
		f.close()
		synctest.Wait()
		if live.Err() == nil {
			t.Error("a live announcement's context was not canceled when the fence closed")
		}
	})
}
