package vrrp

import (
	"testing"
	"unsafe"
)

// burnStack uses at least kib KiB of stack.
//
//go:noinline
func burnStack(kib int) byte {
	var b [1000]byte
	b[kib%len(b)] = byte(kib)
	if kib <= 1 {
		return b[0]
	}
	return b[kib%len(b)] + burnStack(kib-1)
}

// TestOnOwnStackGrown: onOwnStack's f starts on a stack grown for its
// deep calls, so that 11 KiB of them do not move it (a stack that grows
// is copied to a new place: the address of f's local changes).
func TestOnOwnStackGrown(t *testing.T) {
	for range 3 {
		var before, after uintptr
		onOwnStack(func() {
			var x [8]byte
			before = uintptr(unsafe.Pointer(&x))
			x[burnStack(11)%8]++
			after = uintptr(unsafe.Pointer(&x))
		})
		if before != after {
			t.Fatalf("f's stack moved (grew) during its calls: %#x -> %#x", before, after)
		}
	}
}
