package config

import (
	"testing"
)

// Each row is one language feature, with what keepalived's lib/parser.c
// makes of it (the function named in the row).
func TestLanguage(t *testing.T) {
	runLang(t, []langCase{
		// read_line, decomment
		{name: "comments", src: "# c\n! c\na b # c\nc d ! c\n", want: "a b\nc d\n"},
		{name: "escaped comment chars", src: `a \#b \!c` + "\n", want: "a \"#b\" \"!c\"\n"},
		{name: "comment chars in quotes", src: `a "#b !c" "\#"` + "\n", want: "a \"#b !c\" \"\\#\"\n"},
		{name: "CRLF and blanks", src: "  a\tb  \r\n\r\n\tc\r\n", want: "a b\nc\n"},
		{name: "trailing backslash is no continuation", src: "a b \\\nc\n", want: "a \"b\\\"\nc\n"},
		{name: "unterminated quote in decomment", src: "a \"b # c\n",
			want: "a\n", errs: []string{`keepalived.conf:1:1: Unterminated quote 'a "b # c'`, `keepalived.conf:1:3: Unmatched quote: 'a "b # c'`}},
		{name: "line too long", src: "a " + string(make([]byte, 0)) + long(1021) + "\nb\n",
			want: "b\n", errs: []string{"keepalived.conf:1:1: line too long - ignoring"}},
		{name: "longest line", src: "a " + long(1020) + "\n", want: "a " + long(1020) + "\n"},
		{name: "embedded NUL", src: "a \x00b\nb\n", want: "b\n",
			errs: []string{"keepalived.conf:1:1: configuration appears to have embedded NULs - ignoring line"}},

		// alloc_strvec_r
		{name: "quoted words", src: `a "b c" "" d"e f"` + "\n", want: "a \"b c\" \"\" d \"e f\"\n"},
		{name: "unmatched quote", src: "a b \"c\n", want: "a b\n",
			errs: []string{`keepalived.conf:1:1: Unterminated quote 'a b "c'`, `keepalived.conf:1:5: Unmatched quote: 'a b "c'`}},
		{name: "unmatched quote on a script keyword", src: "notify_master /x.sh \"c\n", want: "notify_master /x.sh\n",
			errs: []string{`keepalived.conf:1:1: Unterminated quote 'notify_master /x.sh "c'`}},

		// read_line: '{' and '}' split off
		{name: "block on one line", src: "a { b c }\n", want: "a {\n    b c\n}\n"},
		{name: "brace on next line", src: "a x\n{\n  b\n}\n", want: "a x {\n    b\n}\n"},
		{name: "close on a word line", src: "a {\n b\n c }\nd\n", want: "a {\n    b\n    c\n}\nd\n"},
		{name: "braces glued", src: "a{b}c\n", want: "a {\n    b\n}\nc\n"},
		{name: "nested one line", src: "a { b { c } d }\n", want: "a {\n    b {\n        c\n    }\n    d\n}\n"},
		{name: "braces in quotes", src: `a "{" "x}"` + "\n", want: "a \"{\" \"x}\"\n"},
		{name: "empty block", src: "a {}\n", want: "a {\n}\n"},

		// process_stream / read_line block errors
		{name: "unexpected open", src: "{\na\n}\nb\n", want: "a\nb\n",
			errs: []string{"keepalived.conf:1:1: Unexpected '{' - ignoring"}},
		{name: "second block", src: "a { } { b }\nc\n", want: "a {\n}\nb\nc\n",
			errs: []string{"keepalived.conf:1:7: Unexpected '{' - ignoring"}},
		{name: "extra close", src: "a\n}\nb\n", want: "a\nb\n",
			errs: []string{"keepalived.conf:2:1: Extra '}' found"}},
		{name: "missing close", src: "a {\n b {\n", want: "a {\n    b {\n    }\n}\n",
			errs: []string{"keepalived.conf:2:4: missing '}': the block opened here is not closed", "keepalived.conf:1:3: missing '}': the block opened here is not closed"}},

		// check_definition, replace_param, find_definition
		{name: "definition", src: "$PRIO=150\npriority $PRIO\n", want: "priority 150\n"},
		{name: "braces", src: "$V=5\nid ${V}0\n", want: "id 50\n"},
		{name: "end characters", src: "$V=5\na $V,$V)$V\n", want: "a 5,5)5\n"},
		{name: "not an end character", src: "$V=5\na $Vx $V.1\n", want: "a $Vx $V.1\n"},
		// An undefined ${NAME} stays, and its braces are split off as any.
		{name: "undefined left alone", src: "a $NOPE ${NOPE} x$\n", want: "a $NOPE $ {\n    NOPE\n}\nx$\n"},
		{name: "empty value", src: "$E=\na $E b\n", want: "a b\n"},
		{name: "redefinition", src: "$V=1\na $V\n$V=2\na $V\n", want: "a 1\na 2\n"},
		{name: "lazy and recursive", src: "$A=10.2.${S}\n$S=0\nx ${A}.1\n$S=9\nx ${A}.1\n", want: "x 10.2.0.1\nx 10.2.9.1\n"},
		{name: "space before = is no definition", src: "$V =1\n", want: "$V =1\n"},
		{name: "definition in quotes", src: "$V=5\na \"x ${V}\" \"x $V\"\n", want: "a \"x 5\" \"x $V\"\n"},
		{name: "comment in value", src: "$V=5 # c\na $V\n", want: "a 5\n"},
		{name: "hash outside quotes comments out", src: "$OFF=${_HASH}\n$OFF a b\nc \"${_HASH}\" ${_BANG}\n", want: "c \"#\"\n"},
		{name: "predefined", src: "a ${_INSTANCE} ${_PWD} ${_ENV IF} ${_ENV NONE}x\n", id: "main", want: "a main . eth9 x\n"},
		{name: "random", src: "a ${_RANDOM 5 5} ${_RANDOM 7 7} ${_RANDOM 9 2}\n", want: "a 5 7 9\n"},
		{name: "parameter errors", src: "a ${_RANDOM x} ${_RANDOM 1 2 3} $V\n$V=1\n", want: "a $ {\n    _RANDOM x\n}\n$ {\n    _RANDOM 1 2 3\n}\n$V\n",
			errs: []string{"keepalived.conf:1:3: Definition _RANDOM requires numeric parameters only.", "keepalived.conf:1:16: Definition _RANDOM requires between 0 and 2 parameters, 3 specified."}},
		{name: "parameters to a plain definition", src: "$V=1\na ${V 2}\n", want: "a $ {\n    V 2\n}\n"},
		{name: "override predefined", src: "$_HASH=x\na ${_HASH}\n", want: "a x\n"},
		{name: "recursion without end", src: "$A=$A\nx $A\ny\n", want: "y\n",
			errs: []string{"keepalived.conf:2:3: parameter substitution does not end (more than 1000 substitutions) - ignoring line"}},
		{name: "too long", src: "$A=" + long(600) + "\nx $A $A\n", want: "x " + long(600) + " $A\n",
			errs: []string{"keepalived.conf:2:6: Parameter substitution on line 'x " + long(600) + " $A' would exceed maximum line length"}},
		// The scan stops after a value starting with ~; the line is then
		// processed again (as a ~SEQ, if it is one).
		{name: "value starting with ~ stops substitution", src: "$T=~x $B\n$B=1\na $T $B\n", want: "a ~x 1 1\n"},
		{name: "definition expanding to seq", src: "$S=~SEQ(N, 1, 2) x $N\n$S\n", want: "x 1\nx 2\n"},

		// multi-line definitions
		{name: "multi-line", src: "$RS= \\\nreal_server 10.0.0.${N} 80 { \\\n    weight 1 \\\n}\n$N=1\n$RS\n$N=2\n$RS\n",
			want: "real_server 10.0.0.1 80 {\n    weight 1\n}\nreal_server 10.0.0.2 80 {\n    weight 1\n}\n"},
		{name: "multi-line with first-line text", src: "$M=a \\\nb\nx $M\n", want: "x a\nb\n"},
		{name: "multi-line only at end of line", src: "$M=a \\\nb\nx $M y\n", want: "x $M y\n"},
		{name: "multi-line ended by a blank line", src: "$M=a \\\nb \\\n\nc\n$M\n", want: "c\na\nb\n"},
		{name: "comment lines inside", src: "$M=a \\\n# c\nb\n$M\n", want: "a\nb\n"},
		{name: "nested multi-line", src: "$I= \\\ni1 \\\ni2\n$O= \\\no1 \\\n$I \\\no2\n$O\n", want: "o1\ni1\ni2\no2\n"},
		{name: "empty multi-line", src: "$M= \\\n\na $M\n", want: "a\n"},

		// @ conditionals (read_line)
		{name: "conditional match", id: "main", src: "@main a\n@other b\n@^main c\n@^other d\n", want: "a\nd\n"},
		{name: "conditional without id", src: "@main a\n@^main c\n", want: "c\n"},
		{name: "conditional alone", id: "main", src: "@main\n@^x\nb\n", want: "b\n"},
		{name: "conditional definition", id: "main", src: "@main $P=240\n@backup $P=200\np $P\n", want: "p 240\n"},
		{name: "definition expanding to conditional", id: "main", src: "$IF_MAIN=@main\n$IF_MAIN priority 240\n$IF_B=@b\n$IF_B priority 1\n", want: "priority 240\n"},
		{name: "conditional in block", id: "high", src: "a {\n@high\tb 1\n@low\tb 2\n}\n", want: "a {\n    b 1\n}\n"},

		// ~SEQ (add_seq) and ~LST (add_lst)
		{name: "seq start end", src: "~SEQ(N, 0, 3) ip 10.0.${N}.1\n", want: "ip 10.0.0.1\nip 10.0.1.1\nip 10.0.2.1\nip 10.0.3.1\n"},
		{name: "seq step", src: "~SEQ(N, 1, 2, 9) l ${N}\n", want: "l 1\nl 3\nl 5\nl 7\nl 9\n"},
		{name: "seq end only", src: "~SEQ(N, 3) l $N\n~SEQ(M, -2) m $M\n~SEQ(Z, 0) z $Z\n", want: "l 1\nl 2\nl 3\nm -1\nm -2\nz 1\nz 0\n"},
		{name: "seq down", src: "~SEQ(N, 3, 1) l $N\n", want: "l 3\nl 2\nl 1\n"},
		{name: "seqx", src: "~SEQx(H, 0x90, 0x10, 0xc0) fe80::${H}\n", want: "fe80::90\nfe80::a0\nfe80::b0\nfe80::c0\n"},
		{name: "seq octal", src: "~SEQ(N, 010, 011) l $N\n", want: "l 8\nl 9\n"},
		{name: "nested seq", src: "~SEQ(A, 1, 2) ~SEQ(B, 1, 2) l $A $B\n", want: "l 1 1\nl 1 2\nl 2 1\nl 2 2\n"},
		{name: "seq parameters from definitions", src: "$MAX=2\n~SEQ(N, $MAX) l $N\n", want: "l 1\nl 2\n"},
		{name: "seq in block", src: "v {\n~SEQ(N,1,2) 10.0.0.$N\n}\n", want: "v {\n    10.0.0.1\n    10.0.0.2\n}\n"},
		{name: "seq of multi-line", src: "$I= \\\ni $N { \\\n}\n~SEQ(N, 1, 2) $I\n", want: "i 1 {\n}\ni 2 {\n}\n"},
		{name: "seq errors", src: "~SEQ(N, 0, 0, 3) a\n~SEQx(N, -1, 3) b\n~SEQ(N, 1 c\n~SEQ(N) d\nok\n", want: "ok\n", errs: []string{
			"keepalived.conf:1:1: Invalid ~SEQ values '~SEQ(N, 0, 0, 3) a'",
			"keepalived.conf:1:1: Invalid ~SEQ specification '~SEQ(N, 0, 0, 3) a'",
			"keepalived.conf:2:1: ~SEQx is only valid for positive numbers '~SEQx(N, -1, 3) b'",
			"keepalived.conf:2:1: Invalid ~SEQ specification '~SEQx(N, -1, 3) b'",
			"keepalived.conf:3:1: ~SEQ missing terminating ')' '~SEQ(N, 1 c'",
			"keepalived.conf:3:1: Invalid ~SEQ specification '~SEQ(N, 1 c'",
			"keepalived.conf:4:1: Invalid ~SEQ definition '~SEQ(N) d'",
			"keepalived.conf:4:1: Invalid ~SEQ specification '~SEQ(N) d'",
		}},
		{name: "seq multi-line parameter is not found", src: "$M=a \\\nb\n~SEQ(N, $M) x\n", want: "", errs: []string{
			"keepalived.conf:3:1: Invalid ~SEQ definition '~SEQ(N, $M) x'",
			"keepalived.conf:3:1: Invalid ~SEQ specification '~SEQ(N, $M) x'",
		}},
		{name: "lst", src: "~LST(IF, eth0, eth1) track ${IF}\n", want: "track eth0\ntrack eth1\n"},
		{name: "lst tuples", src: "~LST({IP, IP1}, {10,1}, {20}) 192.168.${IP}.${IP1}x\n", want: "192.168.10.1x\n192.168.20.x\n"},
		{name: "lst errors", src: "~LST({A}, {1, 2}) x\n~LST(A) y\n", want: "", errs: []string{
			"keepalived.conf:1:1: ~LST specification has too many values '~LST({A}, {1, 2}) x'",
			"keepalived.conf:1:1: Invalid ~LST specification '~LST({A}, {1, 2}) x'",
			"keepalived.conf:2:1: Invalid ~LST specification '~LST(A) y'",
		}},
		{name: "other ~ word", src: "~x a\n", want: "~x a\n"},
	}, nil)
}

func long(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}
