//go:build linux

package main

import (
	"syscall"
	"testing"
)

// What the machine charges for the two things a takeover cannot avoid
// and a daemon can do more or less of: touching a page for the first
// time (a minor fault: fresh stacks and heap), and entering the kernel.
// On the 2-CPU VM the benches run on (shadow page tables) a first touch
// costs ~10.6 µs and getpid(2) ~1 µs, some 40x and 10x a bare-metal
// machine's (bench/README.md, "A floor for the takeover"):
//
//	go test -run '^$' -bench . ./bench/failover

// BenchmarkFirstTouch is the cost of touching one fresh anonymous page.
func BenchmarkFirstTouch(b *testing.B) {
	const page = 4096
	mem, err := syscall.Mmap(-1, 0, b.N*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Munmap(mem)
	b.ResetTimer()
	for i := range b.N {
		mem[i*page] = 1
	}
}

// BenchmarkGetpid is the cost of the cheapest system call.
func BenchmarkGetpid(b *testing.B) {
	for range b.N {
		syscall.Getpid()
	}
}
