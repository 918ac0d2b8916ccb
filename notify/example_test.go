package notify_test

import (
	"fmt"
	"net/netip"

	"github.com/vigil-ha/vigil/notify"
)

func ExampleInstanceLine() {
	fmt.Printf("%q\n", notify.InstanceLine("VI_1", notify.Master, 100))
	fmt.Printf("%q\n", notify.GroupLine("G1", notify.Backup))
	fmt.Printf("%q\n", notify.InstanceArgs("VI_1", notify.Fault, 0))
	// Output:
	// "INSTANCE \"VI_1\" MASTER 100\n"
	// "GROUP \"G1\" BACKUP 0\n"
	// ["INSTANCE" "VI_1" "FAULT" "0"]
}

func ExampleVSLine() {
	web := notify.Service{Addr: netip.MustParseAddr("192.0.2.10"), Port: 80, Protocol: 6}
	fmt.Print(notify.VSLine(web, true))
	fmt.Print(notify.RSLine(netip.MustParseAddrPort("192.0.2.21:8080"), web, false))
	fmt.Print(notify.VSLine(notify.Service{FWMark: 1}, false))
	fmt.Print(notify.VSLine(notify.Service{Group: "VSG_1", Protocol: 6}, true))
	fmt.Print(notify.VSLine(notify.Service{Addr: netip.MustParseAddr("2001:db8::10"), Port: 53, Protocol: 17}, true))
	// Output:
	// VS [192.0.2.10]:tcp:80 UP
	// RS [192.0.2.21]:tcp:8080 [192.0.2.10]:tcp:80 DOWN
	// VS FWM 1 DOWN
	// VS [VSG_1]:0 UP
	// VS [2001:db8::10]:udp:53 UP
}
