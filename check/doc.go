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
// a weight as well as health.
//
// A [Monitor] runs one checker under a [Policy]: interval, timeout, retries
// with a delay, rise and fall counts, alpha (start unhealthy) and warmup,
// with keepalived's meanings. The arithmetic of retries, rise and fall is a
// plain value, [Tracker]. Changes of health and weight reach subscribers
// through channels that hold only the latest [Status], so a slow subscriber
// never delays a monitor.
//
// A [Group] runs thousands of checks on one scheduler (package sched) with
// bounded concurrency, spreads their first rounds over the interval, and runs
// a check added several times (same key, same policy) only once, sharing its
// status among all its subscriptions.
//
// Checkers report failures as errors that say what failed and where; they
// wrap [ErrUnexpected], [ErrNoReply] or [ErrConfig], or the context's error
// when the context ended the attempt.
package check
