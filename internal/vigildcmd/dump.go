package vigildcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp"
)

// The dump files, in Env.DumpDir: keepalived's names for its state
// (SIGUSR1) and statistics (SIGUSR2) dumps; vigild.json is vigil's
// State (SIGUSR1 and the JSON signal; keepalived.json's format is
// keepalived's own and is not written).
const (
	DataFile  = "keepalived.data"
	StatsFile = "keepalived.stats"
	JSONFile  = "vigild.json"
)

// writeDataDump is SIGUSR1: keepalived.data and vigild.json.
func (d *daemon) writeDataDump() {
	st := d.sup.State()
	var b bytes.Buffer
	cfg := d.shownConfig()
	writeData(&b, &cfg, &st, d.env.Now())
	d.writeDump(DataFile, b.Bytes())
	d.writeJSONState(&st)
}

// writeJSONDump is the JSON signal: keepalived.json and vigild.json.
func (d *daemon) writeJSONDump() {
	st := d.sup.State()
	d.writeKeepalivedJSON(&st)
	d.writeJSONState(&st)
}

func (d *daemon) writeJSONState(st *vigil.State) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		d.log.Error("Cannot encode the state", "err", err)
		return
	}
	d.writeDump(JSONFile, append(b, '\n'))
}

// writeStatsDump is SIGUSR2: keepalived.stats.
func (d *daemon) writeStatsDump() {
	var b bytes.Buffer
	writeStats(&b, d.sup.Stats())
	d.writeDump(StatsFile, b.Bytes())
}

// writeDump writes a dump file through a temporary file renamed into
// place, so a reader never sees half of one; a failure is logged.
func (d *daemon) writeDump(name string, data []byte) {
	path := filepath.Join(d.env.DumpDir, dumpName(d.o, name))
	if err := writeFileAtomic(path, data); err != nil {
		d.log.Error("Can't write the dump", "file", path, "err", err)
		return
	}
	d.log.Info("Dump written", "file", path)
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// writeData writes keepalived.data's text (its format, like keepalived's,
// is for people, not stable): the instances, sync groups, trackers and
// virtual servers as State has them, with the VIPs and the
// authentication type from cfg. It prints no secret: auth_pass is
// "Password = ********" whatever cfg holds.
func writeData(w io.Writer, cfg *vigil.Config, st *vigil.State, now time.Time) {
	fmt.Fprintf(w, "------< Global definitions >------\n")
	fmt.Fprintf(w, " Router ID = %s\n", cfg.Global.RouterID)
	fmt.Fprintf(w, " Dump time = %s\n", now.Format(time.RFC3339))
	fmt.Fprintf(w, "------< VRRP Topology >------\n")
	for _, is := range st.Instances {
		fmt.Fprintf(w, " VRRP Instance = %s\n", is.Name)
		fmt.Fprintf(w, "   State = %s\n", is.State)
		if !is.Since.IsZero() {
			fmt.Fprintf(w, "   Last transition = %s (%s ago)\n", is.Since.Format(time.RFC3339), now.Sub(is.Since).Round(time.Second))
		}
		fmt.Fprintf(w, "   Interface = %s\n", is.Interface)
		fmt.Fprintf(w, "   Virtual Router ID = %d\n", is.VRID)
		fmt.Fprintf(w, "   Priority = %d\n", is.Priority)
		fmt.Fprintf(w, "   Effective priority = %d\n", is.Effective)
		if is.Master.IsValid() {
			fmt.Fprintf(w, "   Master router = %s\n", is.Master)
		}
		if is.Group != "" {
			fmt.Fprintf(w, "   Sync group = %s\n", is.Group)
		}
		if i := slices.IndexFunc(cfg.Instances, func(in vigil.Instance) bool { return in.VRRP.Name == is.Name }); i >= 0 {
			in := &cfg.Instances[i]
			fmt.Fprintf(w, "   VRRP Version = %d\n", versionNumber(in.VRRP.Version))
			if in.VRRP.AuthType == vrrp.AuthSimple {
				// keepalived 2.4's lines; 2.2 and 2.3 print the password.
				fmt.Fprintf(w, "   Authentication type = SIMPLE_PASSWORD\n")
				fmt.Fprintf(w, "   Password = %s\n", secretMask)
			}
			fmt.Fprintf(w, "   Advert interval = %s\n", in.VRRP.Interval)
			fmt.Fprintf(w, "   Virtual IP = %d\n", len(in.VRRP.VIPs))
			for _, v := range in.VRRP.VIPs {
				fmt.Fprintf(w, "     %s dev %s\n", v, is.Interface)
			}
		}
		for _, t := range is.Tracks {
			fmt.Fprintf(w, "   Tracked %s: up %t weight %d delta %d fault %t\n", t.Source, t.Up, t.Weight, t.Delta, t.Fault)
		}
	}
	if len(st.SyncGroups) > 0 {
		fmt.Fprintf(w, "------< VRRP Sync groups >------\n")
		for _, g := range st.SyncGroups {
			fmt.Fprintf(w, " VRRP Sync Group = %s, %s\n", g.Name, g.State)
			for _, m := range g.Members {
				fmt.Fprintf(w, "   monitor = %s\n", m)
			}
		}
	}
	if len(st.Trackers) > 0 {
		fmt.Fprintf(w, "------< Trackers >------\n")
		for _, t := range st.Trackers {
			fmt.Fprintf(w, " Tracker = %s\n", t.Name)
			fmt.Fprintf(w, "   Status = %s\n", upDown(t.Up))
			if t.WeightSet {
				fmt.Fprintf(w, "   Weight = %d\n", t.Weight)
			}
			if t.Err != "" {
				fmt.Fprintf(w, "   Last error = %s\n", t.Err)
			}
		}
	}
	if len(st.VirtualServers) > 0 {
		fmt.Fprintf(w, "------< LVS Topology >------\n")
		for _, vs := range st.VirtualServers {
			fmt.Fprintf(w, " VS = %s\n", vs.Name)
			if vs.Group != "" {
				fmt.Fprintf(w, "   Group = %s\n", vs.Group)
			}
			fmt.Fprintf(w, "   Quorum = %s\n", upDown(vs.Quorum))
			if vs.Suspended {
				fmt.Fprintf(w, "   Suspended (ha_suspend)\n")
			}
			if vs.SorryServer {
				fmt.Fprintf(w, "   Sorry server active\n")
			}
			for _, rs := range vs.RealServers {
				fmt.Fprintf(w, "   RS = %s, %s, weight %d\n", rs.Name, upDown(rs.Up), rs.Weight)
				if rs.Err != "" {
					fmt.Fprintf(w, "     Last error = %s\n", rs.Err)
				}
			}
		}
	}
}

func versionNumber(v vrrp.Version) int {
	if v == vrrp.V3 {
		return 3
	}
	return 2
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// writeStats writes keepalived.stats in keepalived's format
// (vrrp_print_stats), from vigil's counters: "Length" and "Invalid
// Type" are vigil's malformed drops, "Address List" the adverts with
// another address list, "Failure" the authentication drops; the counters
// vigil does not keep are 0.
func writeStats(w io.Writer, st vigil.Stats) {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range st.Instances {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		s := st.Instances[n]
		fmt.Fprintf(w, "VRRP Instance: %s\n", n)
		fmt.Fprintf(w, "  Advertisements:\n")
		fmt.Fprintf(w, "    Received: %d\n", s.AdvertsReceived)
		fmt.Fprintf(w, "    Sent: %d\n", s.AdvertsSent)
		fmt.Fprintf(w, "  Became master: %d\n", s.BecameMaster)
		fmt.Fprintf(w, "  Released master: %d\n", releasedMaster(s))
		fmt.Fprintf(w, "  Packet Errors:\n")
		fmt.Fprintf(w, "    Length: %d\n", s.Drop(vrrp.DropMalformed))
		fmt.Fprintf(w, "    TTL: %d\n", s.Drop(vrrp.DropTTL))
		fmt.Fprintf(w, "    Invalid Type: %d\n", 0)
		fmt.Fprintf(w, "    Advertisement Interval: %d\n", s.Drop(vrrp.DropInterval))
		fmt.Fprintf(w, "    Address List: %d\n", s.AddrMismatch)
		fmt.Fprintf(w, "  Authentication Errors:\n")
		fmt.Fprintf(w, "    Invalid Type: %d\n", 0)
		fmt.Fprintf(w, "    Type Mismatch: %d\n", 0)
		fmt.Fprintf(w, "    Failure: %d\n", s.Drop(vrrp.DropAuth))
		fmt.Fprintf(w, "  Priority Zero:\n")
		fmt.Fprintf(w, "    Received: %d\n", s.PriorityZeroRx)
		fmt.Fprintf(w, "    Sent: %d\n", s.PriorityZeroTx)
	}
}

// releasedMaster counts the transitions out of MASTER (keepalived's
// release_master).
func releasedMaster(s vrrp.Stats) uint64 {
	var n uint64
	for t, c := range s.ByTransition {
		if t.From == vrrp.Master {
			n += c
		}
	}
	return n
}
