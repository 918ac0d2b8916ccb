//go:build !linux

package netlink

// AddrQueue batches address changes through netlink; Linux only.
type AddrQueue struct{}
