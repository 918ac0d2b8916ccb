// Package config reads keepalived's configuration language, so that
// vigil can run from an operator's existing keepalived.conf.
//
// This is the first of two layers: the language. Read turns a
// keepalived.conf and the files it includes into a tree of Statements
// (words with their positions, and the { } block that follows each),
// after everything keepalived's lib/parser.c does to the text before it
// looks at a keyword:
//
//   - comments from '#' or '!' outside "...", \# and \! for the
//     characters themselves (decomment);
//   - lines of at most 1022 bytes, CR LF, lines with a NUL dropped
//     (read_line);
//   - "@ID line" and "@^ID line" kept or dropped against
//     Options.ConfigID (read_line);
//   - "$NAME=value" definitions, multi-line ones ending each line but
//     the last in '\', and $NAME / ${NAME} substitution, lazy and
//     recursive, with ${_PWD}, ${_INSTANCE}, ${_RANDOM [MIN [MAX]]},
//     ${_ENV NAME}, ${_HASH} and ${_BANG} (check_definition,
//     find_definition, replace_param);
//   - ~SEQ(VAR, [START, [STEP,]] END), ~SEQx and ~LST generators,
//     nesting (add_seq, add_lst, read_line);
//   - include, includer, includem, includew, includeb and includea with
//     glob(3) patterns and {a,b} braces, relative to the including file,
//     and include_check (check_include, open_glob_file,
//     open_and_check_glob, open_conf_file, include_check_set);
//   - '{' and '}' split off into lines of their own wherever they are,
//     outside "..." (read_line), and words split on white space with
//     "..." quoting (alloc_strvec_r). SplitQuoted is keepalived's second
//     tokenizer, for the keywords that take a script.
//
// Every problem is an *Error with its position and include chain,
// wrapping ErrInvalid; Read collects them all and goes on where keepalived
// goes on. Read never panics and bounds its work (Options.MaxWork,
// Options.MaxIncludeDepth, at most 1000 substitutions a line, 256 brace
// alternatives an include, 64 nested blocks).
//
// # Where vigil differs from keepalived
//
//   - A $ substitution that produces a leading '@' or leaves a '$' is
//     processed again, as keepalived's man page says and keepalived did
//     before commit 67333835 (its "continue" inside "do { } while
//     (false)" now skips that, so "$IF_MAIN=@main" no longer works).
//   - Substitution that never ends ("$A=$A": keepalived loops for ever)
//     drops the line after 1000 substitutions; an include loop (keepalived
//     recurses until it runs out of file descriptors) is an error, and
//     includes nest at most Options.MaxIncludeDepth deep.
//   - A line that is too long is dropped whole; keepalived reads its
//     tail as another line.
//   - A '{' that follows no statement is reported and ignored with its
//     matching '}', so it cannot close the enclosing block early; a
//     '{' after any statement opens a block for it, whether or not its
//     keyword has one: the keyword layer reports those, instead of
//     keepalived's "Unexpected '{'" cascade. Each block left open at the
//     end is reported at its '{' (keepalived counts them at the end).
//   - A stray '}' at the top level is "Extra '}' found" once (keepalived
//     also says "Unknown keyword '}'").
//   - An include that matches nothing gives a warning even when
//     keepalived is silent (plain "include" of a wildcard).
//   - ${_ENV} without a name is empty (keepalived crashes); the values
//     of ${_RANDOM} come from Options.Rand.
//
// # The keyword layer
//
// Load (and LoadFile, which reads first) maps a Tree to a vigil.Config,
// block by block as keepalived's install_keyword tree does, and ends
// with vigil.Config.Validate. Every problem is an *Error at its
// statement's position (or at its word's), in the order found:
//
//   - SeverityWarning: an unknown keyword (with a "did you mean" within
//     two edits) or one vigil does not map ("ignored: not supported",
//     "ignored: not mapped yet"), and keepalived's own warnings (a
//     vrrp_script nothing tracks is dropped, a duplicate virtual
//     address, a sync group of one);
//   - SeverityError: a wrong argument (a bad number, address, state,
//     weight, a block where none belongs, an extra argument, a tracker
//     not defined before its use): the statement is ignored and Load
//     goes on, as keepalived does;
//   - SeverityFatal: what keepalived will not run (a keyword without its
//     argument, an instance without virtual_router_id, without interface
//     and not unicast, VRRPv3 without virtual addresses) and what
//     Validate rejects, placed at the object's statement.
//
// Mapped: global_defs' router_id, script_user, set_supplementary_groups,
// enable_script_security, use_symlink_paths, default_interface,
// vrrp_version, vrrp_notify_priority_changes, vrrp_garp_master_delay,
// _repeat, _refresh, _refresh_repeat, vrrp_garp_interval,
// vrrp_gna_interval, vrrp_min_garp, notify_fifo, vrrp_notify_fifo,
// lvs_notify_fifo and their _script; vrrp_script, track_file (and
// vrrp_track_file), vrrp_track_process; vrrp_instance's state,
// interface, virtual_router_id, priority, advert_int, version,
// virtual_ipaddress (IP[/P], dev, label), nopreempt, preempt,
// preempt_delay, accept, no_accept, unicast_src_ip, unicast_peer,
// authentication, track_interface, track_script, track_file,
// track_process, notify_master, _backup, _fault, _stop, _deleted,
// notify, notify_priority_changes, use_vmac, garp_master_*,
// dont_track_primary; vrrp_sync_group's group, track_*, notify_*,
// notify_priority_changes, sync_group_tracking_weight (and
// global_tracking); static_ipaddress (IP[/P], dev, label). Script
// keywords re-split Statement.Line with SplitQuoted: "KEYWORD COMMAND
// [USER [[:]GROUP]]", then COMMAND into the program and its arguments,
// escapes decoded; users are resolved with LoadOptions.LookupUser.
//
// Defaults are keepalived's: priority 100, or 255 with state MASTER and
// no priority (and priority 255 means state MASTER); state BACKUP;
// advert_int 1 s, rounded to whole seconds for VRRPv2; version
// vrrp_version (2), 3 for IPv6; vrrp_script interval 1 s, timeout the
// interval, weight 0; track_file weight 1; vrrp_track_process quorum 1,
// weight 0; an instance's garp_master_* start from the global ones.
//
// Also mapped: static_routes, static_rules, virtual_routes and
// virtual_rules (every word of keepalived's alloc_route and alloc_rule
// is read; a rule selector vigil cannot express drops the rule),
// virtual_ipaddress_excluded (joins the VIPs of its family, with a
// warning), no_virtual_ipaddress, vrrp_strict and strict_mode (the
// configuration rules of strict mode). Every other keyword of
// global_defs, vrrp_instance, vrrp_sync_group and the top level is
// either mapped with a warning "behaves differently: HOW" or ignored
// with a warning "ignored: not supported: WHY"; docs/keepalived.md's
// keyword table, generated from the loader by TestKeywordDoc, lists
// them all.
//
// Not mapped yet (a warning each): virtual_server,
// virtual_server_group and SSL.
package config
