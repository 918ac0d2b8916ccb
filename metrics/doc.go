// Package metrics exports a vigil.Supervisor's state and counters to
// Prometheus. It is a package of its own so that importing vigil does not
// pull in client_golang.
//
//	c := metrics.New(sup, metrics.Config{})
//	prometheus.MustRegister(c)
//	http.Handle("/metrics", promhttp.Handler())
//
// A Collector reads the Supervisor's State and Stats at each scrape; it
// starts no goroutine and needs no Run. Counters count since the
// Supervisor's New (a router's since the router was made: an instance a
// Reload adds starts from zero, one it removes disappears).
//
// # Labels
//
// Every label value comes from the Config, so the label sets are bounded
// by it:
//
//	vrrp_instance   instance name (not "instance", which Prometheus sets
//	                to the scraped target)
//	interface, vrid the instance's interface and VRID
//	sync_group      sync group name ("" on vigil_instance_info for an
//	                instance in none)
//	state           INIT, BACKUP, MASTER, FAULT, STOPPED
//	reason          a vrrp.DropReason: ttl, malformed, version, checksum,
//	                vrid, auth, interval, own, peer
//	source          what an instance tracks: "tracker:NAME" or
//	                "interface:NAME"
//	tracker         tracker name
//	virtual_server  service as text: "tcp 192.0.2.100:80", "fwmark 7"
//	real_server     real server address and port: "198.51.100.1:8080"
//	class           a check.FailureClass: timeout, refused, reset,
//	                unreachable, unexpected (a status, body, banner, reply
//	                or exit status not as expected), invalid, other
//	op              an IPVS backend call: create_service, update_service,
//	                delete_service, create_destination, update_destination,
//	                delete_destination, list_services, list_destinations
//	le              a histogram bucket's bound, in seconds: 0.001, 0.0025,
//	                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
//	                (sched.HistogramBounds), +Inf
//
// A Grafana dashboard over these metrics is in grafana/vigil.json (import
// it and pick the Prometheus data source); a test checks every query's
// metric and label names against what the Collector describes.
//
// Config.ConstLabels adds constant labels to every metric, to register the
// collectors of several Supervisors with one registry.
//
// # Metrics
//
// All names start with vigil_. Gauges marked 0/1 are 1 when true. A state
// is one gauge per state, 1 for the current one and 0 for the others, so
// `vigil_instance_state{state="MASTER"} == 1` selects the masters.
//
// VRRP instances, labels vrrp_instance and those named:
//
//	instance_info                            gauge    interface, vrid, sync_group; always 1
//	instance_state                           gauge    state; 0/1
//	instance_state_change_timestamp_seconds  gauge    when it entered its state, Unix time
//	                                                  (absent before its first state)
//	instance_priority                        gauge    configured priority
//	instance_effective_priority              gauge    advertised priority: configured plus
//	                                                  tracker weights, clamped to 1..254
//	instance_track_up                        gauge    source; 0/1
//	instance_track_priority_delta            gauge    source; what it adds to the priority now
//	instance_track_fault                     gauge    source; 0/1, it puts the instance in FAULT
//	instance_adverts_sent_total              counter  adverts sent
//	instance_adverts_received_total          counter  adverts accepted by validation
//	instance_adverts_dropped_total           counter  reason; messages validation discarded
//	instance_send_errors_total               counter  adverts that failed to send
//	instance_read_errors_total               counter  failed reads
//	instance_address_mismatches_total        counter  accepted adverts with another address list
//	instance_priority_zero_sent_total        counter  priority 0 adverts sent (resigning)
//	instance_priority_zero_received_total    counter  priority 0 adverts accepted
//	instance_transitions_total               counter  from, to, reason; state transitions
//	instance_became_master_total             counter  transitions to MASTER
//	instance_address_errors_total            counter  failures to add or remove VIPs or to
//	                                                  announce them
//	instance_address_retries_total           counter  retries of a failed VIP add or remove
//	instance_address_faults_total            counter  entries into FAULT because the VIPs
//	                                                  could not be added (vrrp.AddrFaultHold)
//	instance_vips_restored_total             counter  VIPs added back while master after
//	                                                  something else removed them
//	instance_events_dropped_total            counter  the router's transition events lost by
//	                                                  full queues
//	instance_final_approaches_total          counter  polls through the final approach before a
//	                                                  Master_Down_Timer deadline
//	instance_final_approaches_skipped_total  counter  final approaches slept through instead,
//	                                                  other instances taking over (vrrp.Clock)
//
// The raw VRRP sockets (Linux: one per interface and family, shared by
// its instances; labels interface, family):
//
//	vrrp_socket_received_total           counter  messages read
//	vrrp_socket_delivered_total          counter  messages handed to an instance
//	vrrp_socket_discarded_total          counter  reason (unknown_vrid, not_peer, short,
//	                                              queue_full); messages handed to none
//	vrrp_socket_read_errors_total        counter  read errors, ICMP errors from unicast
//	                                              peers included
//	vrrp_socket_send_retries_total       counter  adverts sent again at once after a
//	                                              failed send
//	vrrp_socket_rebinds_total            counter  bindings to a re-created interface
//	vrrp_socket_polled_total             counter  messages an expiry read before the
//	                                              socket's reader
//	vrrp_socket_repeats_received_total   counter  delivered adverts that repeated what their
//	                                              backup last stepped (not woken)
//	vrrp_socket_repeats_sent_total       counter  adverts sent again for masters by the socket
//	vrrp_socket_repeat_writes_total      counter  system calls that sent them (a sendmmsg
//	                                              per wake-up)
//
// Sync groups, trackers, virtual and real servers:
//
//	sync_group_state                     gauge  sync_group, state; 0/1
//	tracker_up                           gauge  tracker; 0/1
//	tracker_checks_total                 counter  tracker; check attempts (0 for a process tracker)
//	tracker_check_failures_total         counter  tracker; failed attempts
//	tracker_check_errors_total           counter  tracker, class; failed attempts by class
//	tracker_check_duration_seconds       histogram tracker; attempt durations
//	tracker_weight                       gauge  tracker; a weighted file's or check's last
//	                                            weight (absent for other trackers)
//	virtual_server_quorum                gauge  virtual_server; 0/1
//	virtual_server_suspended             gauge  virtual_server; 0/1, out of the IPVS table
//	                                            because no master instance holds its
//	                                            address (ha_suspend)
//	virtual_server_sorry_server_active   gauge  virtual_server; 0/1
//	real_server_up                       gauge  virtual_server, real_server; 0/1, its
//	                                            checks pass
//	real_server_weight                   gauge  virtual_server, real_server; its dynamic
//	                                            or configured weight, 0 while down with
//	                                            inhibit_on_failure
//	real_server_checks_total             counter  virtual_server, real_server; check
//	                                            attempts (its checks together; a check
//	                                            shared by several real servers counts
//	                                            in each)
//	real_server_check_failures_total     counter  virtual_server, real_server; failed
//	                                            attempts
//	real_server_check_errors_total       counter  virtual_server, real_server, class;
//	                                            failed attempts by class
//	real_server_check_duration_seconds   histogram virtual_server, real_server;
//	                                            attempt durations
//
// Checks (trackers' and real servers' together, on one check.Group) and
// their scheduler:
//
//	check_checks                        gauge    distinct checks scheduled
//	check_handles                       gauge    uses of those checks, at least one each
//	check_changes_dropped_total         counter  result changes lost by full subscriptions
//	check_scheduler_jobs                gauge    jobs in the scheduler
//	check_scheduler_running_runs        gauge    runs executing now
//	check_scheduler_queued_runs         gauge    runs waiting for a concurrency slot now
//	check_scheduler_runs_total          counter  runs finished
//	check_scheduler_skipped_runs_total  counter  ticks skipped, the previous run unfinished
//	check_scheduler_delayed_runs_total  counter  runs that waited for a concurrency slot
//	check_scheduler_panics_total        counter  runs that panicked (recovered)
//	check_scheduler_abandoned_runs_total counter runs left running at stop, past
//	                                             sched.DefaultStopTimeout (checks that
//	                                             ignore their cancellation)
//	check_scheduler_lateness_seconds    histogram how long after its due time each
//	                                             run started
//
// IPVS (zero without virtual servers), notify scripts, the rest:
//
//	ipvs_syncs_total            counter  full syncs (they read the table)
//	ipvs_applies_total          counter  changes applied without reading
//	ipvs_failures_total         counter  syncs and applies that returned an error
//	ipvs_events_total           counter  real server and quorum events published
//	ipvs_events_dropped_total   counter  of those, lost by full subscriptions
//	ipvs_operations_total       counter  op; backend calls that succeeded
//	ipvs_operation_errors_total counter  op; backend calls that failed
//	ipvs_sync_duration_seconds  histogram durations of the syncs and applies
//	notify_notifications_total  counter  notifications accepted
//	notify_runs_total           counter  script runs ended, whatever their status
//	notify_failed_total         counter  runs that did not exit 0 (timeouts included)
//	notify_timed_out_total      counter  runs stopped after their timeout
//	notify_start_errors_total   counter  scripts that could not be started
//	notify_dropped_total        counter  notifications dropped from a full queue
//	notify_canceled_total       counter  notifications never started, the
//	                                     Supervisor stopping
//	notify_waiting              gauge    notifications waiting now
//	notify_running              gauge    scripts running now
//	watchdog_stalls_total       counter  loops found stalled, by "loop": its kind
//	                                     (vrrp, supervisor, checks, ipvs,
//	                                     platform), not its instance, so five
//	                                     series whatever the configuration
//	watchdog_restarts_total     counter  loops restarted, by "loop" (its kind)
//	watchdog_panics_total       counter  panics recovered in watched loops
//	watchdog_abandoned_total    counter  stalled loops abandoned, left behind
//	watchdog_stuck              gauge    abandoned loops not returned, now
//	watchdog_healthy            gauge    1 while every loop beats in time
//	events_dropped_total        counter  Supervisor events lost by full
//	                                     subscriptions, all together
//	build_info                  gauge    version; always 1: vigil's module version
//	                                     as the binary records it ("(devel)" for
//	                                     a build inside the module)
package metrics
