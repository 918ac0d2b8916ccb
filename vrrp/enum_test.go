package vrrp

import (
	"fmt"
	"strings"
	"testing"
)

// The generated String methods print what the hand-written ones did
// (State, Reason, Timer and ActionKind: TestMachineEnumStrings; Version
// and AuthType: TestEnumStrings).
func TestDropReasonInputKindStrings(t *testing.T) {
	var b strings.Builder
	for d := DropNone; int(d) <= numDropReasons; d++ {
		fmt.Fprint(&b, d, " ")
	}
	for k := InputKind(0); k <= InputResume+1; k++ {
		fmt.Fprint(&b, k, " ")
	}
	want := "none ttl malformed version checksum vrid auth interval own peer DropReason(10) " +
		"InputKind(0) startup advert timer shutdown priority fault fault-cleared resume InputKind(9) "
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}
