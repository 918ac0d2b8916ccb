package metrics

import (
	"cmp"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/sched"
	"github.com/vigil-ha/vigil/vrrp"
)

// modulePath is the module whose version vigil_build_info reports.
const modulePath = "github.com/vigil-ha/vigil"

// Config configures a Collector.
type Config struct {
	// ConstLabels are added to every metric, to tell several Supervisors
	// registered with one registry apart; nil means none. Their names
	// must not be one of the collector's own labels.
	ConstLabels prometheus.Labels
}

// A Collector is a prometheus.Collector over a Supervisor: each Collect
// reads the Supervisor's State and Stats, so a scrape costs two cheap
// snapshots and no goroutine runs between scrapes. The two snapshots are
// taken one after the other, not atomically together. The metrics are
// listed in the package documentation.
//
// A Collector is safe for concurrent use, before, during and after the
// Supervisor's Run.
type Collector struct {
	sup     *vigil.Supervisor
	version string
	all     []*prometheus.Desc

	instanceInfo, instanceState, instanceSince   *prometheus.Desc
	priority, effective                          *prometheus.Desc
	advertsSent, advertsReceived, advertsDropped *prometheus.Desc
	sendErrors, readErrors, addrMismatches       *prometheus.Desc
	prioZeroSent, prioZeroReceived               *prometheus.Desc
	transitions, becameMaster, addrErrors        *prometheus.Desc
	vipsRestored, routerEventsDropped, approach  *prometheus.Desc
	addrRetries, addrFaults, approachSkipped     *prometheus.Desc
	trackUp, trackDelta, trackFault              *prometheus.Desc

	syncGroupState *prometheus.Desc

	sockReceived, sockDelivered, sockDiscarded, sockReadErrors *prometheus.Desc
	sockRetries, sockRebinds, sockPolled                       *prometheus.Desc
	sockRepeatsIn, sockRepeatsOut, sockRepeatWrites            *prometheus.Desc

	trackerUp, trackerWeight *prometheus.Desc
	trackerChecks            *prometheus.Desc
	trackerFailures          *prometheus.Desc

	vsQuorum, vsSuspended, vsSorry *prometheus.Desc
	rsUp, rsWeight                 *prometheus.Desc

	checks, handles, checkDropped                     *prometheus.Desc
	schedJobs, schedInFlight, schedQueued             *prometheus.Desc
	schedRuns, schedSkipped, schedDelayed, schedPanic *prometheus.Desc
	schedAbandoned                                    *prometheus.Desc

	ipvsSyncs, ipvsApplies, ipvsFailures, ipvsEvents, ipvsDropped *prometheus.Desc
	ipvsOps, ipvsOpErrors, ipvsSyncDuration                       *prometheus.Desc

	trackerDuration, trackerErrors      *prometheus.Desc
	rsChecks, rsFailures                *prometheus.Desc
	rsDuration, rsErrors, schedLateness *prometheus.Desc

	notifyAccepted, notifyRuns, notifyFailed, notifyTimedOut *prometheus.Desc
	notifyStartErrors, notifyDropped, notifyCanceled         *prometheus.Desc
	notifyWaiting, notifyRunning                             *prometheus.Desc

	wdStalls, wdRestarts, wdPanics, wdAbandoned *prometheus.Desc
	wdStuck, wdHealthy                          *prometheus.Desc

	eventsDropped, buildInfo *prometheus.Desc
}

// New returns a Collector over sup (not nil), to register with a
// prometheus.Registerer. It starts nothing.
func New(sup *vigil.Supervisor, cfg Config) *Collector {
	c := &Collector{sup: sup, version: moduleVersion()}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		x := prometheus.NewDesc("vigil_"+name, help, labels, cfg.ConstLabels)
		c.all = append(c.all, x)
		return x
	}
	const inst = "vrrp_instance"
	c.instanceInfo = d("instance_info", "A VRRP instance's interface, VRID and sync group; always 1.",
		inst, "interface", "vrid", "sync_group")
	c.instanceState = d("instance_state", "1 for the state the VRRP instance is in, 0 for the others.", inst, "state")
	c.instanceSince = d("instance_state_change_timestamp_seconds",
		"When the VRRP instance entered its current state, in seconds since the Unix epoch.", inst)
	c.priority = d("instance_priority", "The VRRP instance's configured priority.", inst)
	c.effective = d("instance_effective_priority",
		"The priority the VRRP instance advertises: configured plus tracker weights, clamped to 1..254.", inst)
	c.advertsSent = d("instance_adverts_sent_total", "Adverts the VRRP instance sent.", inst)
	c.advertsReceived = d("instance_adverts_received_total", "Adverts the VRRP instance accepted.", inst)
	c.advertsDropped = d("instance_adverts_dropped_total",
		"Received messages the VRRP instance's validation discarded, by reason.", inst, "reason")
	c.sendErrors = d("instance_send_errors_total", "Adverts the VRRP instance failed to send.", inst)
	c.readErrors = d("instance_read_errors_total", "Failed reads on the VRRP instance's connection.", inst)
	c.addrMismatches = d("instance_address_mismatches_total",
		"Accepted adverts whose address list differs from the VRRP instance's.", inst)
	c.prioZeroSent = d("instance_priority_zero_sent_total", "Priority 0 adverts (resignations) the VRRP instance sent.", inst)
	c.prioZeroReceived = d("instance_priority_zero_received_total", "Priority 0 adverts the VRRP instance accepted.", inst)
	c.transitions = d("instance_transitions_total",
		"State transitions of the VRRP instance, by state left, state entered and reason.", inst, "from", "to", "reason")
	c.becameMaster = d("instance_became_master_total", "Transitions of the VRRP instance to MASTER.", inst)
	c.addrErrors = d("instance_address_errors_total",
		"Failures of the VRRP instance to add or remove its VIPs or to announce them.", inst)
	c.addrRetries = d("instance_address_retries_total",
		"Retries of a failed add or remove of the VRRP instance's VIPs.", inst)
	c.addrFaults = d("instance_address_faults_total",
		"Times the VRRP instance entered FAULT because its VIPs could not be added.", inst)
	c.vipsRestored = d("instance_vips_restored_total",
		"VIPs the VRRP instance added back while master after something else removed them.", inst)
	c.routerEventsDropped = d("instance_events_dropped_total",
		"Transition events lost by the VRRP instance's full subscriber queues.", inst)
	c.approach = d("instance_final_approaches_total",
		"Times the VRRP instance polled through the final approach before a Master_Down_Timer deadline.", inst)
	c.approachSkipped = d("instance_final_approaches_skipped_total",
		"Final approaches the VRRP instance slept through instead of polling, because other instances were taking over.", inst)
	sock := []string{"interface", "family"}
	c.sockReceived = d("vrrp_socket_received_total", "Messages the raw VRRP socket of an interface and family read.", sock...)
	c.sockDelivered = d("vrrp_socket_delivered_total", "Messages the raw VRRP socket handed to an instance.", sock...)
	c.sockDiscarded = d("vrrp_socket_discarded_total",
		"Messages the raw VRRP socket read and handed to no instance, by reason.", append(sock, "reason")...)
	c.sockReadErrors = d("vrrp_socket_read_errors_total",
		"Errors reading the raw VRRP socket, ICMP errors from unicast peers included.", sock...)
	c.sockRetries = d("vrrp_socket_send_retries_total",
		"Adverts sent again at once on the raw VRRP socket after a send failed.", sock...)
	c.sockRebinds = d("vrrp_socket_rebinds_total",
		"Times the raw VRRP socket was bound again to its re-created interface.", sock...)
	c.sockPolled = d("vrrp_socket_polled_total",
		"Messages an instance's expiry read from the raw VRRP socket before the socket's reader did.", sock...)
	c.sockRepeatsIn = d("vrrp_socket_repeats_received_total",
		"Delivered adverts that repeated what their backup instance last stepped, taken without waking it.", sock...)
	c.sockRepeatsOut = d("vrrp_socket_repeats_sent_total",
		"Adverts the raw VRRP socket sent again for its master instances.", sock...)
	c.sockRepeatWrites = d("vrrp_socket_repeat_writes_total",
		"System calls that sent vrrp_socket_repeats_sent_total: one sendmmsg per wake-up of the socket's sender.", sock...)
	c.trackUp = d("instance_track_up", "1 when a tracker or interface the VRRP instance tracks is up, else 0.", inst, "source")
	c.trackDelta = d("instance_track_priority_delta", "What a tracker or interface adds to the VRRP instance's priority now.",
		inst, "source")
	c.trackFault = d("instance_track_fault", "1 when a tracker or interface puts the VRRP instance in FAULT now, else 0.",
		inst, "source")

	c.syncGroupState = d("sync_group_state", "1 for the state the sync group is in, 0 for the others.", "sync_group", "state")

	c.trackerUp = d("tracker_up", "1 when the tracker passes, else 0.", "tracker")
	c.trackerChecks = d("tracker_checks_total", "Check attempts of a check or file tracker.", "tracker")
	c.trackerFailures = d("tracker_check_failures_total", "Failed check attempts of a check or file tracker.", "tracker")
	c.trackerWeight = d("tracker_weight", "The weight of a weighted file or check tracker (its last value).", "tracker")
	c.trackerDuration = d("tracker_check_duration_seconds", "Durations of a check tracker's attempts, failed ones included.", "tracker")
	c.trackerErrors = d("tracker_check_errors_total", "Failed attempts of a check tracker, by class of error.", "tracker", "class")

	c.vsQuorum = d("virtual_server_quorum", "1 when the virtual server has quorum, else 0.", "virtual_server")
	c.vsSuspended = d("virtual_server_suspended",
		"1 when the virtual server is out of the IPVS table because no master instance holds its address, else 0.",
		"virtual_server")
	c.vsSorry = d("virtual_server_sorry_server_active", "1 while the virtual server's sorry server serves, else 0.",
		"virtual_server")
	c.rsUp = d("real_server_up", "1 when the real server's checks pass, else 0.", "virtual_server", "real_server")
	c.rsChecks = d("real_server_checks_total", "Check attempts of a real server's checks.", "virtual_server", "real_server")
	c.rsFailures = d("real_server_check_failures_total", "Failed check attempts of a real server's checks.",
		"virtual_server", "real_server")
	c.rsDuration = d("real_server_check_duration_seconds", "Durations of a real server's check attempts, failed ones included.",
		"virtual_server", "real_server")
	c.rsErrors = d("real_server_check_errors_total", "Failed check attempts of a real server, by class of error.",
		"virtual_server", "real_server", "class")
	c.rsWeight = d("real_server_weight",
		"The real server's weight: its dynamic or configured one, 0 while down with inhibit_on_failure.",
		"virtual_server", "real_server")

	c.checks = d("check_checks", "Distinct checks scheduled (a check used in several places counts once).")
	c.handles = d("check_handles", "Uses of checks not removed, at least one per check.")
	c.checkDropped = d("check_changes_dropped_total", "Check result changes lost by full subscriptions.")
	c.schedJobs = d("check_scheduler_jobs", "Jobs in the check scheduler.")
	c.schedInFlight = d("check_scheduler_running_runs", "Check runs executing now.")
	c.schedQueued = d("check_scheduler_queued_runs", "Check runs waiting for a concurrency slot now.")
	c.schedRuns = d("check_scheduler_runs_total", "Check runs finished.")
	c.schedSkipped = d("check_scheduler_skipped_runs_total", "Check runs skipped because the previous run was not finished.")
	c.schedDelayed = d("check_scheduler_delayed_runs_total", "Check runs that waited for a concurrency slot.")
	c.schedPanic = d("check_scheduler_panics_total", "Check runs that panicked (recovered and logged).")
	c.schedLateness = d("check_scheduler_lateness_seconds",
		"How long after its due time each check run started (waiting for a concurrency slot, or the scheduler late).")
	c.schedAbandoned = d("check_scheduler_abandoned_runs_total",
		"Check runs still going when the scheduler stopped, past its stop timeout: checks that ignore their cancellation.")

	c.ipvsSyncs = d("ipvs_syncs_total", "Full IPVS syncs (they read the table).")
	c.ipvsApplies = d("ipvs_applies_total", "IPVS changes applied without reading the table.")
	c.ipvsFailures = d("ipvs_failures_total", "IPVS syncs and applies that returned an error.")
	c.ipvsEvents = d("ipvs_events_total", "Real server and quorum events the IPVS balancer published.")
	c.ipvsDropped = d("ipvs_events_dropped_total", "IPVS balancer events lost by full subscriptions.")
	c.ipvsOps = d("ipvs_operations_total", "IPVS backend calls that succeeded, by kind.", "op")
	c.ipvsOpErrors = d("ipvs_operation_errors_total", "IPVS backend calls that failed, by kind.", "op")
	c.ipvsSyncDuration = d("ipvs_sync_duration_seconds", "Durations of the IPVS syncs and applies, reads and writes together.")

	c.notifyAccepted = d("notify_notifications_total", "Notifications accepted for the notify scripts.")
	c.notifyRuns = d("notify_runs_total", "Notify script runs that ended, whatever their exit status.")
	c.notifyFailed = d("notify_failed_total", "Notify script runs that did not exit 0 by themselves (timeouts included).")
	c.notifyTimedOut = d("notify_timed_out_total", "Notify script runs stopped after their timeout.")
	c.notifyStartErrors = d("notify_start_errors_total", "Notify scripts that could not be started.")
	c.notifyDropped = d("notify_dropped_total", "Notifications dropped from a full queue, never run.")
	c.notifyCanceled = d("notify_canceled_total", "Notifications never started because the Supervisor stopped.")
	c.notifyWaiting = d("notify_waiting", "Notifications waiting now.")
	c.notifyRunning = d("notify_running", "Notify scripts running now.")

	// Loops by kind (vrrp, supervisor, checks, ipvs, platform), not by
	// instance: five series whatever the configuration; the instance is
	// in the logs.
	c.wdStalls = d("watchdog_stalls_total", "Loops the watchdog found stalled, by kind of loop.", "loop")
	c.wdRestarts = d("watchdog_restarts_total", "Loops restarted after a stall, a panic or an error, by kind of loop.", "loop")
	c.wdPanics = d("watchdog_panics_total", "Panics recovered in watched loops.")
	c.wdAbandoned = d("watchdog_abandoned_total", "Stalled loops abandoned, their goroutine left behind.")
	c.wdStuck = d("watchdog_stuck", "Abandoned loops whose goroutine has not returned, now.")
	c.wdHealthy = d("watchdog_healthy", "1 while every watched loop beats within its deadline (what systemd's WATCHDOG=1 waits for).")

	c.eventsDropped = d("events_dropped_total", "Supervisor events lost by full subscriptions, all together.")
	c.buildInfo = d("build_info", "The vigil module's version; always 1.", "version")
	return c
}

// Describe sends the descriptions of every metric the Collector can
// collect, to prometheus.Registerer.Register.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.all {
		ch <- d
	}
}

// states are the instance and sync group states, each exported as one
// 0/1 series.
var states = []vrrp.State{vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Fault, vrrp.Stopped}

// Collect sends the Supervisor's metrics now, from one State and one
// Stats snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.sup.State()
	stats := c.sup.Stats()
	gauge := func(d *prometheus.Desc, v float64, lvs ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lvs...)
	}
	counter := func(d *prometheus.Desc, v uint64, lvs ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lvs...)
	}
	stateSet := func(d *prometheus.Desc, name, now string) {
		for _, s := range states {
			gauge(d, bit(s.String() == now), name, s.String())
		}
	}

	for _, is := range st.Instances {
		n := is.Name
		gauge(c.instanceInfo, 1, n, is.Interface, strconv.Itoa(int(is.VRID)), is.Group)
		stateSet(c.instanceState, n, is.State)
		if !is.Since.IsZero() {
			gauge(c.instanceSince, float64(is.Since.UnixNano())/1e9, n)
		}
		gauge(c.priority, float64(is.Priority), n)
		gauge(c.effective, float64(is.Effective), n)
		for _, t := range is.Tracks {
			gauge(c.trackUp, bit(t.Up), n, t.Source)
			gauge(c.trackDelta, float64(t.Delta), n, t.Source)
			gauge(c.trackFault, bit(t.Fault), n, t.Source)
		}
		rs, ok := stats.Instances[n]
		if !ok {
			continue // a reload removed it between the snapshots
		}
		counter(c.advertsSent, rs.AdvertsSent, n)
		counter(c.advertsReceived, rs.AdvertsReceived, n)
		for r := vrrp.DropNone + 1; r <= vrrp.DropPeer; r++ {
			counter(c.advertsDropped, rs.Drop(r), n, r.String())
		}
		counter(c.sendErrors, rs.SendErrors, n)
		counter(c.readErrors, rs.ReadErrors, n)
		counter(c.addrMismatches, rs.AddrMismatch, n)
		counter(c.prioZeroSent, rs.PriorityZeroTx, n)
		counter(c.prioZeroReceived, rs.PriorityZeroRx, n)
		for _, tr := range slices.SortedFunc(maps.Keys(rs.ByTransition), compareTransitions) {
			counter(c.transitions, rs.ByTransition[tr], n, tr.From.String(), tr.To.String(), tr.Reason.String())
		}
		counter(c.becameMaster, rs.BecameMaster, n)
		counter(c.addrErrors, rs.AddrErrors, n)
		counter(c.addrRetries, rs.AddrRetries, n)
		counter(c.addrFaults, rs.AddrFaults, n)
		counter(c.vipsRestored, rs.VIPsRestored, n)
		counter(c.routerEventsDropped, rs.EventsDropped, n)
		counter(c.approach, rs.FinalApproaches, n)
		counter(c.approachSkipped, rs.FinalApproachesSkipped, n)
	}
	for _, k := range slices.SortedFunc(maps.Keys(stats.Sockets), compareSockets) {
		ss, i, f := stats.Sockets[k], k.Interface, k.Family
		counter(c.sockReceived, ss.Received, i, f)
		counter(c.sockDelivered, ss.Delivered, i, f)
		counter(c.sockDiscarded, ss.UnknownVRID, i, f, "unknown_vrid")
		counter(c.sockDiscarded, ss.NotPeer, i, f, "not_peer")
		counter(c.sockDiscarded, ss.Short, i, f, "short")
		counter(c.sockDiscarded, ss.QueueFull, i, f, "queue_full")
		counter(c.sockReadErrors, ss.ReadErrors, i, f)
		counter(c.sockRetries, ss.Retries, i, f)
		counter(c.sockRebinds, ss.Rebinds, i, f)
		counter(c.sockPolled, ss.Polled, i, f)
		counter(c.sockRepeatsIn, ss.RepeatsReceived, i, f)
		counter(c.sockRepeatsOut, ss.RepeatsSent, i, f)
		counter(c.sockRepeatWrites, ss.RepeatWrites, i, f)
	}
	for _, g := range st.SyncGroups {
		stateSet(c.syncGroupState, g.Name, g.State)
	}
	for _, t := range st.Trackers {
		gauge(c.trackerUp, bit(t.Up), t.Name)
		counter(c.trackerChecks, t.Checks, t.Name)
		counter(c.trackerFailures, t.Failures, t.Name)
		if t.WeightSet {
			gauge(c.trackerWeight, float64(t.Weight), t.Name)
		}
		if cs, ok := stats.Trackers[t.Name]; ok {
			histogram(ch, c.trackerDuration, cs.Durations, t.Name)
			for k := range check.NumFailureClasses {
				counter(c.trackerErrors, cs.FailuresByClass[check.FailureClass(k)], t.Name, check.FailureClass(k).String())
			}
		}
	}
	for _, vs := range st.VirtualServers {
		gauge(c.vsQuorum, bit(vs.Quorum), vs.Name)
		gauge(c.vsSuspended, bit(vs.Suspended), vs.Name)
		gauge(c.vsSorry, bit(vs.SorryServer), vs.Name)
		for _, rs := range vs.RealServers {
			gauge(c.rsUp, bit(rs.Up), vs.Name, rs.Name)
			gauge(c.rsWeight, float64(rs.Weight), vs.Name, rs.Name)
			cs, ok := stats.RealServers[vigil.RealServerName{VirtualServer: vs.Name, RealServer: rs.Name}]
			if !ok {
				continue
			}
			counter(c.rsChecks, cs.Checks, vs.Name, rs.Name)
			counter(c.rsFailures, cs.Failures, vs.Name, rs.Name)
			histogram(ch, c.rsDuration, cs.Durations, vs.Name, rs.Name)
			for k := range check.NumFailureClasses {
				counter(c.rsErrors, cs.FailuresByClass[check.FailureClass(k)], vs.Name, rs.Name, check.FailureClass(k).String())
			}
		}
	}

	ck, sc := stats.Checks, stats.Checks.Sched
	gauge(c.checks, float64(ck.Checks))
	gauge(c.handles, float64(ck.Handles))
	counter(c.checkDropped, ck.Dropped)
	gauge(c.schedJobs, float64(sc.Jobs))
	gauge(c.schedInFlight, float64(sc.InFlight))
	gauge(c.schedQueued, float64(sc.Queued))
	counter(c.schedRuns, sc.Runs)
	counter(c.schedSkipped, sc.Skipped)
	counter(c.schedDelayed, sc.Delayed)
	counter(c.schedPanic, sc.Panics)
	histogram(ch, c.schedLateness, sc.Lateness)
	counter(c.schedAbandoned, sc.Abandoned)

	iv := stats.IPVS
	counter(c.ipvsSyncs, iv.Syncs)
	counter(c.ipvsApplies, iv.Applies)
	counter(c.ipvsFailures, iv.Failures)
	counter(c.ipvsEvents, iv.Events)
	counter(c.ipvsDropped, iv.Dropped)
	histogram(ch, c.ipvsSyncDuration, iv.SyncDuration)
	for op := ipvs.OpCreateService; op <= ipvs.OpListDestinations; op++ { // the Syncer's
		counter(c.ipvsOps, iv.Ops[op], opNames[op])
		counter(c.ipvsOpErrors, iv.OpErrors[op], opNames[op])
	}

	nt := stats.Notify
	counter(c.notifyAccepted, nt.Notifications)
	counter(c.notifyRuns, nt.Runs)
	counter(c.notifyFailed, nt.Failed)
	counter(c.notifyTimedOut, nt.TimedOut)
	counter(c.notifyStartErrors, nt.StartErrors)
	counter(c.notifyDropped, nt.Dropped)
	counter(c.notifyCanceled, nt.Canceled)
	gauge(c.notifyWaiting, float64(nt.Waiting))
	gauge(c.notifyRunning, float64(nt.Running))

	wd := stats.Watchdog
	for _, k := range slices.Sorted(maps.Keys(wd.StallsByLoop)) {
		counter(c.wdStalls, wd.StallsByLoop[k], k)
		counter(c.wdRestarts, wd.RestartsByLoop[k], k)
	}
	counter(c.wdPanics, wd.Panics)
	counter(c.wdAbandoned, wd.Abandoned)
	gauge(c.wdStuck, float64(wd.Stuck))
	gauge(c.wdHealthy, bit(c.sup.Healthy()))

	counter(c.eventsDropped, stats.EventsDropped)
	gauge(c.buildInfo, 1, c.version)
}

// opNames are the op label's values: ipvs.Op's words joined by "_"
// ("create_service").
var opNames = func() map[ipvs.Op]string {
	m := map[ipvs.Op]string{}
	for op := ipvs.OpCreateService; op <= ipvs.OpListDestinations; op++ {
		m[op] = strings.ReplaceAll(op.String(), " ", "_")
	}
	return m
}()

// bucketBounds are the histograms' bucket bounds in seconds.
var bucketBounds = func() []float64 {
	out := make([]float64, len(sched.HistogramBounds))
	for i, b := range sched.HistogramBounds {
		out[i] = b.Seconds()
	}
	return out
}()

// histogram sends h as a Prometheus histogram, in seconds.
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h sched.Histogram, lvs ...string) {
	buckets := make(map[float64]uint64, len(bucketBounds))
	var cum uint64
	for i, b := range bucketBounds {
		cum += h.Counts[i]
		buckets[b] = cum
	}
	ch <- prometheus.MustNewConstHistogram(d, h.Count(), h.Sum.Seconds(), buckets, lvs...)
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// moduleVersion is vigil's module version as the running binary records
// it: a tag, a pseudo-version, "(devel)" for a build inside the module,
// "unknown" when the binary records none.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if bi.Main.Path != modulePath {
		v = ""
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				v = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					v = d.Replace.Version
				}
			}
		}
	}
	if v == "" {
		return "unknown"
	}
	return v
}

// compareSockets orders sockets by interface, family.
func compareSockets(a, b vigil.SocketName) int {
	return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Family, b.Family))
}

// compareTransitions orders transitions by from, to, reason.
func compareTransitions(a, b vrrp.Transition) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Reason, b.Reason))
}
