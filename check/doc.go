// Package check probes the health of services, as keepalived's checkers
// do, and tracks it over time.
//
// The package is split in two, like seesaw's healthcheck: stateless
// checkers, and the monitors that schedule them and remember.
//
// A [Checker] probes a target once: [TCP] (connect, optional TLS, send and
// expect), [HTTP] (GET over HTTP or HTTPS: status codes, MD5 body digest,
// regular expression), [ICMP] (echo over a raw or an unprivileged datagram
// socket, IPv4 and IPv6), [UDP] (a datagram and its reply, or no port
// unreachable), [DNS] (a query answered with NOERROR), [SMTP] (greeting, HELO,
// QUIT), [Exec] (a program's exit status; keepalived's MISC_CHECK), [File]
// (a number in a file; keepalived's track_file) and [CheckerFunc] for checks
// written in Go. Exec and File are [WeightedChecker]s: their runs can report
// a weight as well as health. Each checker of this package has a Validate
// method that reports every misconfigured field as a [*FieldError].
//
// A [Monitor] runs one checker under a [Policy]: interval, timeout, retries
// with a delay, rise and fall counts, alpha (start unhealthy) and warmup,
// with keepalived's meanings; zero means keepalived's default and a
// negative value off. The arithmetic of retries, rise and fall is a plain
// value, [Tracker]. Changes of health and weight reach subscribers through
// [Monitor.Subscribe]: a queue of n changes that drops its oldest when full
// and counts the drops, so a slow subscriber never delays a monitor and
// Subscribe(1) always holds the latest change.
//
// A [Group] runs thousands of checks on one scheduler (a sched.Runner)
// with bounded concurrency, spreads their first rounds over the interval,
// and runs a check added several times (same key, same policy) only once,
// sharing its status among all its [Handle]s. [Group.Subscribe] carries
// the changes of every check in the group, each with its Handle, on one
// stream: a consumer of 10,000 checks needs one goroutine.
//
// A check's policy can change while it runs ([Monitor.SetPolicy],
// [Handle.SetPolicy]) without resetting its health: it stays up or down,
// the rounds counted towards rise or fall carry over, and a new interval
// counts from the last round.
//
// A Monitor or a Group runs once: a second Run returns [ErrRan]. Checkers
// report failures as errors that say what failed and where; they wrap
// [ErrUnexpected], [ErrNoReply] or [ErrInvalid] (through a [*FieldError]),
// or the context's error when the context ended the attempt.
package check
