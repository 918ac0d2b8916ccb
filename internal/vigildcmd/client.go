package vigildcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil"
)

// runClient runs a subcommand against a running vigild's control socket.
func runClient(o *Options, env *Env) int {
	if o.ControlSocket == "" || o.ControlSocket == "none" {
		fmt.Fprintln(env.Stderr, "vigild: no control socket")
		return ExitFatal
	}
	if o.JSON && o.Command != "status" {
		fmt.Fprintln(env.Stderr, "vigild: --json is for status")
		return ExitFatal
	}
	resp, err := call(o.ControlSocket, Request{Command: o.Command})
	if err == nil && resp.Error != "" && resp.Reload == nil {
		err = fmt.Errorf("%s", resp.Error)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "vigild %s: %v\n", o.Command, err)
		return ExitFatal
	}
	switch o.Command {
	case "status":
		if resp.State == nil {
			fmt.Fprintln(env.Stderr, "vigild status: no state in the answer")
			return ExitFatal
		}
		if o.JSON {
			b, _ := json.MarshalIndent(stateJSON{resp.State, resp.BGP}, "", "  ")
			fmt.Fprintf(env.Stdout, "%s\n", b)
			return ExitOK
		}
		printStatus(env.Stdout, resp.State, resp.Now)
		printBGP(env.Stdout, resp.BGP)
	case "reload":
		r := resp.Reload
		if r == nil {
			fmt.Fprintln(env.Stderr, "vigild reload: no result in the answer")
			return ExitFatal
		}
		for _, p := range r.Problems {
			fmt.Fprintln(env.Stderr, p)
		}
		if r.Err != "" {
			fmt.Fprintf(env.Stderr, "vigild reload: %s\n", r.Err)
			if r.Summary != "" && r.Summary != "nothing changed" {
				fmt.Fprintf(env.Stderr, "applied before the failure: %s\n", r.Summary)
			}
			return ExitFatal
		}
		fmt.Fprintf(env.Stdout, "reloaded: %s\n", r.Summary)
	case "dump":
		fmt.Fprint(env.Stdout, resp.Dump)
	}
	return ExitOK
}

// printStatus prints the instances and the virtual servers as tables.
func printStatus(w io.Writer, st *vigil.State, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tINTERFACE\tVRID\tSTATE\tPRIORITY\tMASTER\tSINCE\tFAULTS")
	for _, is := range st.Instances {
		prio := fmt.Sprint(is.Effective)
		if is.Effective != is.Priority {
			prio = fmt.Sprintf("%d (configured %d)", is.Effective, is.Priority)
		}
		master := "-"
		if is.Master.IsValid() {
			master = is.Master.String()
		}
		since := "-"
		if !is.Since.IsZero() {
			since = fmt.Sprintf("%s (%s ago)", is.Since.Format(time.RFC3339), now.Sub(is.Since).Round(time.Second))
		}
		faults := "-"
		if len(is.Faults) > 0 {
			faults = strings.Join(is.Faults, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", is.Name, is.Interface, is.VRID, is.State, prio, master, since, faults)
	}
	tw.Flush()
	if len(st.VirtualServers) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VIRTUAL SERVER\tQUORUM\tREAL SERVER\tHEALTH\tWEIGHT\tLAST ERROR")
	for _, vs := range st.VirtualServers {
		q := upDown(vs.Quorum)
		switch {
		case vs.Suspended:
			q += " (suspended)"
		case vs.SorryServer:
			q += " (sorry server)"
		}
		name := vs.Name
		if vs.Group != "" {
			name += " (group " + vs.Group + ")"
		}
		if len(vs.RealServers) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\n", name, q)
		}
		for i, rs := range vs.RealServers {
			if i > 0 {
				name, q = "", ""
			}
			e := "-"
			if rs.Err != "" {
				e = rs.Err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", name, q, rs.Name, upDown(rs.Up), rs.Weight, e)
		}
	}
	tw.Flush()
}
