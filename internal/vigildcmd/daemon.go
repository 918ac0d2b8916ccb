package vigildcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/memtrim"
)

// daemon is a running vigild.
type daemon struct {
	o   *Options
	env *Env
	log *slog.Logger
	sup Supervisor

	mu  sync.Mutex
	cfg vigil.Config // the configuration running, for dumps

	reqs chan reloadReq // the control socket's reloads → the loop
	bgp  *bgpRun        // the BGP speaker, nil without; the loop's (bgp.go)
	// bgpNow is bgp for the control socket and /state (bgpstatus.go).
	bgpNow atomic.Pointer[bgpRun]
	trim   *memtrim.Trimmer
}

// reloadReq asks the loop to reload; the result comes back on reply.
type reloadReq struct{ reply chan reloadResult }

// reloadResult is what a reload did: the Changes' summary, or the
// problems that kept the running configuration.
type reloadResult struct {
	Summary  string   `json:"summary,omitempty"`
	Problems []string `json:"problems,omitempty"`
	Err      string   `json:"error,omitempty"`
}

// runDaemon runs the Supervisor of o.ConfigFile until SIGTERM or SIGINT;
// with o.Child, as a child of vigild's parent process (split.go).
func runDaemon(o *Options, env *Env) int {
	log := newLogger(env.Stderr, o)
	var link *parentLink
	if o.Child != "" {
		log = log.With("process", o.Child)
		var err error
		if link, err = openParentLink(log); err != nil {
			log.Error("Cannot talk to the parent process", "err", err)
			return ExitFatal
		}
		defer link.close()
		env.Notify = link.notify
	}
	log.Info("Starting vigild", "version", version(), "config", o.ConfigFile)
	cfg, status := startConfig(o, env, log)
	if status != ExitOK {
		return status
	}
	if o.CheckOnly && o.Child == "" && hasHASuspend(&cfg) {
		log.Warn("ha_suspend with -C/--check: no VRRP instance runs in this process, so those virtual servers stay suspended")
	}
	if o.DumpConf {
		dumpConfig(log, &cfg)
	}

	pp := pidFiles(o, &cfg.Global.Daemon, env.RunDir)
	pidPaths := []string{pp.main}
	switch {
	case o.Child == childVRRP.String():
		pidPaths = []string{pp.vrrp}
	case o.Child == childChecker.String():
		pidPaths = []string{pp.checkers}
	default:
		if !o.CheckOnly {
			pidPaths = append(pidPaths, pp.vrrp)
		}
		if !o.VRRPOnly {
			pidPaths = append(pidPaths, pp.checkers)
		}
	}
	pids, err := writePidFiles(pidPaths, env.Pid, env.Proc, log)
	if err != nil {
		log.Error(err.Error())
		return ExitFatal
	}
	defer removePidFiles(pids, log)

	if o.Namespace != "" && cfg.Global.Daemon.NetNamespace != "" {
		log.Info("Overriding config net_namespace with the command line's", "net_namespace", cfg.Global.Daemon.NetNamespace, "namespace", o.Namespace)
	}
	sup, err := env.Build(cfg, BuildOptions{Netns: netnsPath(namespace(o, &cfg.Global.Daemon)), Logger: log})
	if err != nil {
		log.Error("Cannot start", "err", err)
		return ExitFatal
	}
	if link != nil && o.Child == childVRRP.String() {
		link.resume(sup, env.Getenv(resumeEnv))
	}
	// The heap the start grew into, given back once it has settled: a
	// start, a reload and each transition kick the trimmer, which runs
	// the spell with fewer collections.
	tc := memtrim.Config{Trim: env.Trim, SetGCPercent: env.SetGCPercent}
	if env.Getenv("GOGC") == "" {
		tc.SpellGCPercent = SpellGCPercent
	}
	d := &daemon{o: o, env: env, log: log, sup: sup, cfg: cfg, reqs: make(chan reloadReq),
		trim: memtrim.New(tc)}
	defer d.trim.Stop()

	events, cancelEvents := sup.Events(1024)
	var bg sync.WaitGroup
	bg.Go(func() { logEvents(log, events, d.trim.Kick) })
	defer func() {
		cancelEvents()
		bg.Wait()
	}()

	stopServers, err := d.startServers()
	if err != nil {
		log.Error("Cannot start", "err", err)
		sup.Close()
		return ExitFatal
	}
	defer stopServers()

	if err := d.startBGP(cfg.BGP); err != nil {
		log.Error("Cannot start the BGP speaker", "err", err)
		sup.Close()
		return ExitFatal
	}
	defer d.stopBGP()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sup.Run(ctx) }()
	d.trim.Kick()
	if link != nil {
		var vipsOf func(string) []netip.Prefix
		if o.Child == childVRRP.String() {
			vipsOf = d.vipsOf
		} else {
			link.relayHeld(sup)
		}
		bg.Go(func() { link.run(ctx, sup, o.ChildDeadline, vipsOf) })
	}
	d.notify("READY=1\nSTATUS=running")
	return d.loop(ctx, cancel, runErr)
}

// startConfig loads o.ConfigFile for a start, logging its problems, and
// filters it for o; a status other than ExitOK says why it cannot run.
func startConfig(o *Options, env *Env, log *slog.Logger) (vigil.Config, int) {
	l := loadConfig(o, env)
	if l.missing != nil {
		log.Error("Configuration file missing", "file", o.ConfigFile, "err", l.missing)
		return vigil.Config{}, ExitNoConfig
	}
	logDiags(log, l.diags)
	if l.other != nil || l.fatal {
		if l.other != nil {
			log.Error("Configuration cannot be read", "file", o.ConfigFile, "err", l.other)
		}
		log.Error("Configuration cannot run; exiting", "file", o.ConfigFile)
		return vigil.Config{}, ExitConfig
	}
	if l.insecure {
		log.Warn(securityViolation)
	}
	cfg := filter(l.cfg, o)
	cfg.Logger = log
	return cfg, ExitOK
}

// loop serves signals and reloads until a stop; it returns the exit
// status once Run has returned.
func (d *daemon) loop(ctx context.Context, cancel context.CancelFunc, runErr <-chan error) int {
	for {
		select {
		case sig := <-d.env.Signals:
			switch sig {
			case syscall.SIGHUP:
				d.reload(ctx)
				d.trim.Kick()
			case syscall.SIGTERM, syscall.SIGINT:
				if !stops(d.o, sig) {
					continue
				}
				d.log.Info("Stopping", "signal", sig.String())
				d.notify("STOPPING=1")
				d.drainBGP() // routes leave before the VIPs and IPVS; a second signal cuts it
				cancel()
				err := <-runErr
				d.stopBGP()
				return d.stopped(err)
			case syscall.SIGUSR1:
				d.writeDataDump()
			case syscall.SIGUSR2:
				d.writeStatsDump()
			case JSONSignal:
				d.writeJSONDump()
			default:
				d.log.Warn("Ignoring signal", "signal", sig.String())
			}
		case r := <-d.reqs:
			r.reply <- d.reload(ctx)
			d.trim.Kick()
		case err := <-runErr:
			d.log.Error("Stopped by a failure", "err", err)
			d.notify("STOPPING=1")
			d.stopBGP()
			d.stopped(err)
			return ExitFatal
		case err := <-d.bgpFailed():
			// Run returns early only when GoBGP cannot start (a port in
			// use): stop, so that a VRRP backup takes over and announces.
			d.setBGP(nil)
			d.log.Error("Stopped by a failure of the BGP speaker", "err", err)
			d.notify("STOPPING=1")
			cancel()
			d.stopped(<-runErr)
			return ExitFatal
		}
	}
}

// stops says whether sig stops vigild: SIGTERM, and SIGINT without
// --ignore-sigint.
func stops(o *Options, sig os.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT && !o.IgnoreSIGINT
}

// stopped logs the end of Run and returns the exit status.
func (d *daemon) stopped(err error) int {
	if err != nil {
		d.log.Error("Stopped with errors", "err", err)
		return ExitFatal
	}
	d.log.Info("Stopped vigild")
	return ExitOK
}

// reload reads the configuration file again and, if it has no errors,
// applies it; with errors the running configuration stays.
func (d *daemon) reload(ctx context.Context) reloadResult {
	d.notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading", d.env.Monotonic()))
	defer d.notify("READY=1\nSTATUS=running")
	d.log.Info("Reloading", "config", d.o.ConfigFile)
	l := loadConfig(d.o, d.env)
	var res reloadResult
	if l.missing != nil {
		res.Problems = []string{fmt.Sprintf("%s: fatal: configuration file missing: %v", d.o.ConfigFile, l.missing)}
	}
	if l.other != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("%s: fatal: %v", d.o.ConfigFile, l.other))
	}
	logDiags(d.log, l.diags)
	for _, e := range l.diags {
		if e.Severity != config.SeverityWarning {
			res.Problems = append(res.Problems, formatDiag(e))
		}
	}
	if !l.ok() {
		for _, p := range res.Problems {
			if l.missing != nil || l.other != nil {
				d.log.Error(p)
			}
		}
		res.Err = "new config failed validation; the running configuration is kept"
		d.log.Error("New config failed validation; keeping the running configuration",
			"config", d.o.ConfigFile, "problems", len(res.Problems))
		return res
	}
	cfg := filter(l.cfg, d.o)
	cfg.Logger = d.log
	cur := d.config()
	if why := daemonChange(d.o, &cur.Global.Daemon, &cfg.Global.Daemon); why != "" {
		res.Problems = append(res.Problems, why)
		res.Err = "new config cannot be applied; the running configuration is kept"
		d.log.Error(why+"; keeping the running configuration", "config", d.o.ConfigFile)
		return res
	}
	ch, err := d.sup.Reload(ctx, cfg)
	res.Summary = summarize(ch)
	if err != nil {
		res.Err = err.Error()
		d.log.Error("Reload failed", "err", err, "applied", res.Summary)
		return res
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	if err := d.reloadBGP(cur.BGP, cfg.BGP); err != nil { // bgp.go
		res.Err = "BGP speaker: " + err.Error()
		d.log.Error("Reload: cannot start the BGP speaker; running without it", "err", err)
		return res
	}
	d.log.Info("Reload finished", "changes", res.Summary)
	return res
}

// notify tells systemd; an error is logged.
func (d *daemon) notify(state string) {
	if err := d.env.Notify(state); err != nil {
		d.log.Warn("sd_notify", "state", state, "err", err)
	}
}

// logDiags logs every configuration problem with its position.
func logDiags(log *slog.Logger, diags []*config.Error) {
	for _, e := range diags {
		lvl := slog.LevelError
		if e.Severity == config.SeverityWarning {
			lvl = slog.LevelWarn
		}
		log.Log(context.Background(), lvl, formatDiag(e))
	}
}

// summarize says what a Reload changed, in one line.
func summarize(ch vigil.Changes) string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+" "+strings.Join(names, ","))
		}
	}
	add("instances added", ch.InstancesAdded)
	add("instances removed", ch.InstancesRemoved)
	add("instances changed", ch.InstancesChanged)
	for old, nu := range sortedMap(ch.InstancesRenamed) {
		parts = append(parts, "instance renamed "+old+"->"+nu)
	}
	add("trackers added", ch.TrackersAdded)
	add("trackers removed", ch.TrackersRemoved)
	add("trackers replaced", ch.TrackersReplaced)
	add("trackers changed", ch.TrackersChanged)
	add("sync groups added", ch.SyncGroupsAdded)
	add("sync groups removed", ch.SyncGroupsRemoved)
	add("sync groups restarted", ch.SyncGroupsRestarted)
	vs := ch.VirtualServers
	add("virtual servers added", stringsOf(vs.AddedServices))
	add("virtual servers removed", stringsOf(vs.RemovedServices))
	add("virtual servers changed", stringsOf(vs.ChangedServices))
	add("real servers added", rsNames(vs.AddedRealServers))
	add("real servers removed", rsNames(vs.RemovedRealServers))
	add("real servers changed", rsNames(vs.ChangedRealServers))
	if len(parts) == 0 {
		return "nothing changed"
	}
	return strings.Join(parts, "; ")
}

func stringsOf[T fmt.Stringer](xs []T) []string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return s
}

func rsNames(ks []vigil.RealServerKey) []string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.Dest.String() + " of " + k.Service.String()
	}
	return s
}

// netnsPath is --namespace's file: /run/netns/NAME, or NAME if it is a
// path.
func netnsPath(name string) string {
	if name == "" || strings.Contains(name, "/") {
		return name
	}
	return "/run/netns/" + name
}

func hasHASuspend(cfg *vigil.Config) bool {
	for _, vs := range cfg.VirtualServers {
		if vs.HASuspend {
			return true
		}
	}
	return false
}

// dumpConfig is -d: the configuration as JSON, in the log, its secrets
// masked (redacted).
func dumpConfig(log *slog.Logger, cfg *vigil.Config) {
	c := redacted(cfg)
	c.Logger = nil
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		// A value encoding/json refuses (a check's tls.Config): the
		// same dump, through jsonable.
		b, err = json.MarshalIndent(jsonable(reflect.ValueOf(c)), "", "  ")
	}
	if err != nil {
		log.Info("Configuration", "config", fmt.Sprintf("%+v", c))
		return
	}
	log.Info("Configuration\n" + string(b))
}

// startServers starts the control socket and the metrics server; the
// returned func stops them and waits for their goroutines.
func (d *daemon) startServers() (func(), error) {
	serve := d.serveHTTP
	if d.o.Child != "" {
		serve = nil // the parent serves the metrics
	}
	return startServers(d.o, d.log, d.handle, serve)
}

// startServers starts o's control socket, answered by handle, and, with
// serve, the metrics server on --metrics-address; the returned func
// stops them and waits for their goroutines.
func startServers(o *Options, log *slog.Logger, handle func(context.Context, Request) Response, serve func(net.Listener) func()) (func(), error) {
	var stops []func()
	stop := func() {
		for _, s := range stops {
			s()
		}
	}
	if p := childSocket(o); p != "" {
		ln, err := listenControl(p)
		switch {
		case err != nil && o.ControlSocket == DefaultControlSocket:
			// The default is best effort: vigild runs without it.
			log.Error("No control socket", "path", p, "err", err)
		case err != nil:
			return stop, err
		default:
			log.Info("Control socket", "path", p)
			stops = append(stops, serveControl(ln, log, handle))
		}
	}
	if a := o.MetricsAddress; a != "" && serve != nil {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			stop()
			return func() {}, fmt.Errorf("metrics address: %w", err)
		}
		log.Info("Serving /metrics and /state", "address", ln.Addr().String())
		stops = append(stops, serve(ln))
	}
	return stop, nil
}

// errNotRunning is what a client gets when the daemon stops meanwhile.
var errNotRunning = errors.New("vigild is stopping")

// requestReload asks the loop for a reload and waits for it.
func (d *daemon) requestReload(ctx context.Context) (reloadResult, error) {
	r := reloadReq{reply: make(chan reloadResult, 1)}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		return reloadResult{}, errNotRunning
	}
	select {
	case res := <-r.reply:
		return res, nil
	case <-ctx.Done():
		return reloadResult{}, errNotRunning
	}
}

// vipsOf returns the VIPs of the instance named name in the
// configuration running.
func (d *daemon) vipsOf(name string) []netip.Prefix {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, in := range d.cfg.Instances {
		if in.VRRP.Name == name {
			return in.VRRP.VIPs
		}
	}
	return nil
}

// config returns the configuration running.
func (d *daemon) config() vigil.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// shownConfig returns the configuration running as the dumps and the
// control socket show it: its secrets masked (redacted).
func (d *daemon) shownConfig() vigil.Config {
	cfg := d.config()
	return redacted(&cfg)
}

// removeIfExists removes path, ignoring its absence.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
