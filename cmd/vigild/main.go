// Command vigild is keepalived as one Go process: it runs a
// keepalived.conf (VRRP instances, trackers, sync groups, virtual
// servers) with keepalived's command line, signals, pid files and exit
// statuses, and adds a Prometheus endpoint and a control socket
// (vigild status, reload, dump). See internal/vigildcmd for the details
// and vigild.service for the systemd unit.
package main

import (
	"os"

	"github.com/vigil-ha/vigil/internal/vigildcmd"
)

func main() {
	os.Exit(vigildcmd.Main(os.Args[1:], vigildcmd.Env{}))
}
