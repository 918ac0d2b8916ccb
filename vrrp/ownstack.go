package vrrp

// onOwnStack runs f on a goroutine of its own, waits for it to return and
// raises its panic, if any, again in the caller. The Router's calls to its
// AddrManager go through it. They go deep (netlink: vishvananda's request
// and the kernel's answer parsed in place), and a goroutine's stack that
// grew for them stays grown until a garbage collection shrinks it, which
// for a backup that receives adverts and allocates nothing may be never:
// 1,000 backups that each removed their VIPs at start (BACKUP must not
// hold a crashed run's VIPs) kept about 33 KiB of stack each, 35 MiB in
// all (bench/README.md, "instances"). A goroutine of its own gives its
// grown stack back when it ends; the Router's stays at the size its own
// loop needs. The cost, a goroutine start and two switches, is paid per
// add or remove, never per advert. The transition's log line goes the
// same way (a handler's formatting needs more than the loop's 4 KiB).
//
// The goroutine grows its stack to 16 KiB before it calls f
// (ownStackGrow), while it holds two frames: a new goroutine starts small
// (2 KiB, or the average the collector last saw), and growing it inside
// f's deep calls copied it three times, each time with more frames to
// adjust, on a takeover's path: in a 200-VRID mass failover that was a
// tenth of the backup's CPU in the burst (bench/README.md, "Mass
// failover, second look").
func onOwnStack(f func()) {
	done := make(chan any, 1)
	go func() {
		ownStackGrow(0)
		panicked := true
		defer func() {
			if panicked {
				done <- ownStackPanic{recover()}
			}
		}()
		f()
		panicked = false
		done <- nil
	}()
	if p, ok := (<-done).(ownStackPanic); ok {
		panic(p.v)
	}
}

// ownStackPanic carries the value of a panic in onOwnStack's f to the
// caller (a runtime.Goexit in f becomes a panic there).
type ownStackPanic struct{ v any }

// ownStackGrow has a 12 KiB frame: calling it grows the stack to 16 KiB
// in one copy.
//
//go:noinline
func ownStackGrow(i int) byte {
	var b [12 << 10]byte
	b[i%len(b)] = byte(i)
	return b[(i+1)%len(b)]
}

// growStack grows the calling goroutine's stack to 8 KiB before a
// takeover that may be due: a waiting router rests in 4 KiB (the
// collector shrinks what it does not use), and growing it on the
// takeover's own path (a new stack, the frames copied and adjusted)
// delayed the first advert by 20–40 µs (bench/README.md, "Memory a start
// leaves behind"). Growing it in finalApproach, ahead of the deadline,
// costs nothing there. (ownStackGrow does the same for onOwnStack's
// goroutines, to 16 KiB.)
//
//go:noinline
func growStack(i int) byte {
	var b [5 << 10]byte
	b[i%len(b)] = byte(i)
	return b[(i+1)%len(b)]
}
