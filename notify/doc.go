// Package notify tells the world about state changes the way keepalived
// does: notify scripts, notify FIFOs and the exact lines and arguments
// keepalived writes. It knows nothing of VRRP or IPVS types; callers give
// it names, states, addresses and scripts as plain values.
//
// # Lines and arguments
//
// [InstanceLine], [GroupLine], [VSLine] and [RSLine] return, byte for
// byte, the lines keepalived writes to its notify FIFOs
// (keepalived/vrrp/vrrp_notify.c, keepalived/check/ipwrapper.c):
//
//	INSTANCE "VI_1" MASTER 100
//	GROUP "G1" BACKUP 0
//	VS [192.0.2.10]:tcp:80 UP
//	RS [192.0.2.21]:tcp:8080 [192.0.2.10]:tcp:80 DOWN
//
// including keepalived's quirks: a group's priority is always 0, a group
// service is "[NAME]:0", IPv6 addresses are glibc's text. [InstanceArgs]
// and [GroupArgs] are the four arguments keepalived appends to a generic
// notify script ("INSTANCE" NAME STATE PRIORITY).
//
// # Scripts
//
// A [Script] runs a program as keepalived runs its notify scripts: argv
// without a shell, as a configured user and groups, in its own process
// group, with IFS, LD_PRELOAD and LD_LIBRARY_PATH removed from its
// environment. [Script.Check] does keepalived's load-time checks: the
// program is found and executable for its user and, if it runs as root,
// nobody but root can change it or a directory above it; its errors name
// the path and the reason. [LookupUser] and [DefaultUser] resolve users
// as keepalived's configuration does (keepalived_script,
// enable_script_security).
//
// Unlike keepalived, vigil bounds every run ([Script].Timeout, a minute
// by default: then SIGTERM to the process group, SIGKILL a second later)
// and reports how it ended ([Result]); keepalived never times out a
// notify script and ignores its exit status.
//
// # Ordered notifications
//
// A [Runner] runs notifications without making the caller wait, one key
// (an instance, a group, a virtual server) at a time and in order:
// keepalived forks each notify script and moves on, so the scripts of two
// quick transitions run at once and may finish in either order
// (keepalived issues #1991, #782). With a Runner, a notification starts
// only after the previous one of its key has finished; when too many
// wait, the oldest waiting is dropped and counted, so the latest state
// always runs. See [Runner] for exactly what is guaranteed.
//
// # FIFOs
//
// A [FIFO] is keepalived's notify_fifo: created if absent, refused if a
// file that is not a FIFO of ours sits at its path, opened read-write and
// non-blocking so that writes never wait and never fail for want of a
// reader, written a whole line at a time (at most [PipeBuf] bytes, so
// lines never mix), with lines that do not fit dropped and counted. Its
// optional script (notify_fifo_script) runs with the FIFO's path as last
// argument while [FIFO.Run] runs.
//
// Runner and FIFO run once: a second Run returns [ErrRan]. Misconfigured
// values are reported as [*FieldError]s wrapping [ErrInvalid]. Scripts
// and FIFOs work on Linux only.
package notify
