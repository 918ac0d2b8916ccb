// Package ipvs keeps the kernel's IPVS table (Linux Virtual Server) in a
// desired state: a typed model of virtual servers and real servers, a
// reconciler (Sync) that computes and applies the smallest set of changes,
// keepalived's real-server semantics (inhibit on failure, sorry server,
// quorum), and a kernel backend over github.com/moby/ipvs.
package ipvs
