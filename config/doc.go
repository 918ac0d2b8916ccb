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
// # The keyword layer (next)
//
// The keyword layer will walk the tree with a table of keywords per
// block, as keepalived's install_keyword tree does: each entry names the
// keyword (and its aliases: lb_algo for lvs_sched, ...), whether it
// takes a block, a list block (virtual_ipaddress: every statement an
// entry) or none, its arguments, its vigil priority (M/S/L/N) and a
// handler that sets a field of a vigil.Config. It reports, at the
// statement's position: unknown keywords (with a "did you mean"), a
// block where none belongs ("unknown keyword with a block", where
// keepalived would close the parent early), a missing '{', extra or
// missing arguments (keepalived exits; vigil goes on), and "ignored: not
// supported" for L and N keywords. Script keywords re-split
// Statement.Line with SplitQuoted. Positions come from Statement.Pos and
// WordPos; the include chain from Pos.IncludedFrom.
package config
