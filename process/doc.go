// Package process tracks running processes for vigil, as keepalived's
// vrrp_track_process does: a Tracker counts, for each Spec, the processes
// that match it, and says whether the count is within the Spec's quorum
// ([Quorum, QuorumMax]) after its ForkDelay or TerminateDelay. A
// Supervisor turns each Spec's state into a VRRP priority change or a
// fault (keepalived's weight and reverse, which are not here).
//
// # How it follows processes
//
// A Tracker never polls: it listens to the kernel's process events
// through the netlink process connector (NETLINK_CONNECTOR, group
// CN_IDX_PROC): fork, exec, a new name (comm) and exit. It scans /proc
// once at start, and again only when events were lost. One socket and
// one scan serve every Spec, as keepalived uses one socket for all its
// vrrp_track_process blocks.
//
// A process matches a Spec by its name, exactly: its comm (what ps shows,
// at most 15 bytes), or with FullCommand, Params or ParamMatch set, the
// argv[0] it was started with, and its parameters compared as ParamMatch
// says (keepalived's param_match: exact, initial, partial). Zombies are
// not counted.
//
// # Counting without races
//
// pidof-style checks (killall -0, pgrep) race with the processes they
// count (keepalived issues #1420 and #2584): a process that exits and a
// new one that starts between two checks look like one process that
// stayed, a PID may be reused, and a check that runs while a daemon
// forks or restarts sees a count that was true for an instant. The
// Tracker counts correctly through such changes, by these rules:
//
//   - It asks the kernel for events, and waits for its answer, before it
//     scans /proc. A process that changes during or after the scan causes
//     an event that is read after the scan.
//   - It keeps, for each process, the set of Specs it matches, and every
//     event replaces that set from what the process is now: on fork, exec
//     and a new name it reads /proc/PID (the comm and state, and the
//     command line if a Spec needs it); on exit, or if /proc/PID is gone,
//     the process matches nothing. Applying an event twice, or late,
//     changes nothing that a later event does not set right: for each PID
//     the last event read decides, and it is read after what it reports.
//     So a process that exits and another that starts in between are an
//     exit (count - 1) and a fork or exec (count + 1), each applied once,
//     in the kernel's order; a PID reused at once is an exit of the old
//     process followed by a fork of the new one. The debounce then decides
//     whether the state moves: a restart within TerminateDelay changes the
//     count twice and publishes nothing.
//   - The kernel numbers its events per CPU. A gap in the numbers, or the
//     kernel's report of a full receive buffer (ENOBUFS), means events
//     were lost: the Tracker closes the socket, opens a new one with twice
//     the receive buffer, and scans /proc again, as at start (at most once
//     a second; the published states stay as they are meanwhile). Events
//     read from the old socket are not applied after the new scan, so a
//     stale exit cannot remove a process that the scan found under a
//     reused PID.
//
// What no event reports is not seen: a process that rewrites its command
// line in place (setproctitle) keeps the command line it had at exec or
// fork, as in keepalived.
//
// # Differences from keepalived
//
// keepalived's code (keepalived/core/track_process.c; the brief's path
// keepalived/vrrp/track_process.c does not exist) is the reference where
// its documentation differs. The Tracker differs from it on purpose:
//
//   - A forked child is read from /proc/PID. keepalived gives a child the
//     Specs of its parent without reading it, and ignores children of
//     processes it does not track; when it reads an exec'd process late,
//     after the process has forked and exited (a daemon that double-forks
//     at start), it never counts the grandchild that keeps running.
//     Reading costs two small files per fork on the host.
//   - A process is counted once per Spec. keepalived counts a tracked
//     process again when it execs a matching program (sshd re-executing
//     itself), until it exits.
//   - ForkDelay applies to every gain of the quorum and TerminateDelay to
//     every loss, whatever the event. keepalived applies fork_delay only
//     to gains through a fork of a tracked process (a daemon started by
//     exec, as systemd starts it, comes up at once), and chooses the delay
//     by the event at quorum_max (an exit that brings the count back
//     within quorum_max waits terminate_delay). After a resync the
//     Tracker does not restart delays that are running.
//   - A new name is matched against every comm Spec; keepalived stops at
//     the first Spec the process still matches.
//   - Lost events are found from the sequence numbers too (keepalived only
//     logs gaps), and a resync reopens the socket instead of rescanning
//     under a stream of stale events.
//   - The answer to the listen request is awaited and checked: its error,
//     or no answer at all, makes New fail (keepalived logs a warning after
//     100 ms and tracks nothing). Only the kernel's messages are read.
//   - The comm is read from /proc/PID/stat up to its last ')', so names
//     holding ") " parse; keepalived cuts at the first.
//   - A comm Spec with a Process longer than 15 bytes, which could never
//     match, is invalid (use FullCommand).
//
// # Privileges and namespaces
//
// The process connector exists only in the initial network namespace,
// and the kernel ignores listen requests from outside the initial user
// and PID namespaces: New fails there with ErrUnsupported. Before Linux
// 6.6 listening needs CAP_NET_ADMIN; later kernels accept listeners
// without it, but one was seen (6.18) not to answer such a listener while
// no other listener existed. New fails with ErrPermission in these
// cases. There is no fallback to
// polling /proc: polling is the racy check this package replaces, and it
// would hide from the operator that tracking lost its guarantees. A
// caller without the connector should say so and use a check script
// instead.
//
// Invalid configuration is reported by Config.Validate, which New calls,
// as *FieldErrors wrapping ErrInvalid.
package process
