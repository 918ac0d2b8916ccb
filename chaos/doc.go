// Package chaos holds vigil's chaos tier: a seeded test that runs three
// VRRP routers (vigild, and in a second run keepalived as one of them) in
// network namespaces for a fixed time while it kills, stops, restarts,
// unplugs, partitions and re-prioritises them at random, and judges
// failover from a capture of every advert and gratuitous ARP on the
// segment. It has no code of its own: see chaos_linux_test.go.
//
//	go test ./chaos/                                   # as root: 40 s + 20 s
//	go test ./chaos/ -chaos.duration 10m -chaos.seed 42  # longer, replayed
//
// On a failure the test prints its seed and the events it made; the same
// seed makes the same events in the same order (their timing follows the
// machine).
package chaos
