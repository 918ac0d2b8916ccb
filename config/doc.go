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
// virtual_ipaddress_excluded (vigil.InstanceConfig.ExcludedVIPs, held
// with the VIPs, not advertised), the address options (scope, brd,
// noprefixroute, preferred_lft, no_track: netlink.AddrOptions),
// no_virtual_ipaddress, vrrp_strict and strict_mode (the
// configuration rules of strict mode), nftables, nftables_priority and
// nftables_counters (vigil.Global.NFTables: the table enforcing
// no_accept). Every other keyword of
// global_defs, vrrp_instance, vrrp_sync_group and the top level is
// either mapped with a warning "behaves differently: HOW" or ignored
// with a warning "ignored: not supported: WHY"; docs/keepalived.md's
// keyword table, generated from the loader by TestKeywordDoc, lists
// them all.

// The check side is mapped too: virtual_server (IP [PORT], fwmark N,
// group NAME) with lvs_sched/lb_algo, lvs_method/lb_kind (TUN with type,
// port, csum), protocol, persistence_timeout, persistence_granularity,
// ops, sh-/mh-port, sh-/mh-fallback, flag-1, flag-2, ip_family,
// delay_loop, connect_timeout, retry, delay_before_retry, warmup, alpha,
// omega, inhibit_on_failure, quorum, hysteresis, quorum_up/_down,
// weight, virtualhost, ha_suspend, sorry_server, sorry_server_inhibit,
// sorry_server_lvs_method; virtual_server_group (IP [PORT], A.B.C.D-E,
// A-B, A/N ranges, fwmark N [inet|inet6]); real_server's weight,
// lvs_method, uthreshold, lthreshold, inhibit_on_failure, alpha,
// notify_up/_down, virtualhost and the timing keywords; the checkers
// TCP_CHECK, HTTP_GET and SSL_GET (url path, digest, status_code,
// virtualhost, regex; virtualhost, enable_sni, sni_name, nb_get_retry),
// MISC_CHECK (misc_path, misc_timeout, misc_dynamic, user), SMTP_CHECK
// (helo_name, host), DNS_CHECK (type, name), PING_CHECK, UDP_CHECK
// (payload, require_reply), FILE_CHECK (track_file, weight) with the
// common connect_ip, connect_port, bindto, connect_timeout, retry,
// delay_before_retry, warmup, delay_loop, alpha; and the SSL block's
// certificate and key (the client certificate of SSL_GET).
//
// Its defaults are keepalived's (validate_check_config): protocol UDP,
// scheduler wlc and forwarding NAT, each with keepalived's warning;
// persistence 360 s for a bare persistence_timeout, a granularity or a
// port 0; real server weight the virtual server's weight (1); a NAT real
// server without port takes the service's, a DR or TUN one is given it
// (no port on fwmark services); quorum 1, lowered to the sum of the
// weights and hysteresis below quorum, with warnings; checkers target
// the real server (connect_ip, connect_port), every 60 s (delay_loop),
// timeout 5 s, retry 1 (DNS_CHECK 3, MISC_CHECK 0), delay_before_retry
// 1 s (HTTP_GET and SSL_GET 3 s, DNS_CHECK the delay_loop), warmup
// spread over the delay_loop, each inherited checker ← real server ←
// virtual server; HTTP status 200-299; SMTP HELO
// smtpchecker.keepalived.org; DNS query SOA for "."; misc_timeout the
// virtual server's delay_loop. Each url of HTTP_GET is a check of its
// own (all must pass), as is each SMTP_CHECK host.
//
// Where the check side differs from keepalived: a checker without a port
// to check (the real server of a fwmark or group service has none and no
// connect_port is given) is an error and dropped, where keepalived
// connects to port 0; SSL_GET does not verify the server (as keepalived)
// and the SSL block's ca is ignored; its password decrypts a key
// encrypted the legacy way (Proc-Type: 4,ENCRYPTED), and an encrypted
// PKCS#8 key is an error (decrypt it first); SSL_GET sends the
// virtualhost as SNI even without enable_sni when it is a host name
// (Go's TLS); regex is a Go (RE2)
// expression; a real server that is also the sorry server is an error;
// a group is expanded to one service per address (at most 65536 an
// entry) and takes the protocol of the first virtual server that uses
// it (UDP if none), two protocols being an error; MISC_CHECK without
// user runs as vigil's user, not script_user; FILE_CHECK reads the file
// every second (keepalived watches it); weights are at most 65535.
// Ignored with a warning: persistence_engine, flag-3, hashed,
// smtp_alert, snmp_name, bind_port, bind_if, fwmark (of a checker),
// log_all_failures, http_protocol, fast_recovery, tls_compliant,
// regex_no_match, regex_options, regex_min_offset, regex_max_offset,
// regex_stack, min_reply_length, max_reply_length, 'X' wildcards of
// require_reply (an error), BFD_CHECK.
package config
