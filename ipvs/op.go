package ipvs

import "fmt"

// Op is one kind of Backend call. The zero value is invalid.
type Op uint8

// Backend calls, as Sync reports them in SyncError and ipvstest counts
// them; String says them in words ("create destination"). The writes
// come first; OpListServices is Backend.Services and OpListDestinations
// Backend.Destinations; the sync daemons' calls (Daemons) come last and
// are not table writes (IsWrite is false), then Admin's: OpFlush (a
// write) and the timeouts' (not writes).
const (
	OpCreateService     Op = iota + 1 // create service
	OpUpdateService                   // update service
	OpDeleteService                   // delete service
	OpCreateDestination               // create destination
	OpUpdateDestination               // update destination
	OpDeleteDestination               // delete destination
	OpListServices                    // list services
	OpListDestinations                // list destinations
	OpStartDaemon                     // start sync daemon
	OpStopDaemon                      // stop sync daemon
	OpListDaemons                     // list sync daemons
	OpFlush                           // flush
	OpReadTimeouts                    // read timeouts
	OpSetTimeouts                     // set timeouts
)

// IsWrite reports whether o changes the table.
func (o Op) IsWrite() bool { return o >= OpCreateService && o <= OpDeleteDestination || o == OpFlush }

// A SyncError is the failure of one operation of Sync on one object.
type SyncError struct {
	Op      Op
	Service ServiceKey
	// Dest is the destination of a destination operation.
	Dest DestinationKey
	Err  error
}

// Error formats e as "ipvs: service tcp 192.0.2.10:80: destination
// 10.0.0.1:80: create destination: <cause>".
func (e *SyncError) Error() string {
	switch e.Op {
	case OpListServices:
		return fmt.Sprintf("ipvs: %v: %v", e.Op, e.Err)
	case OpCreateDestination, OpUpdateDestination, OpDeleteDestination:
		return fmt.Sprintf("ipvs: service %v: destination %v: %v: %v", e.Service, e.Dest, e.Op, e.Err)
	}
	return fmt.Sprintf("ipvs: service %v: %v: %v", e.Service, e.Op, e.Err)
}

// Unwrap returns the backend's error.
func (e *SyncError) Unwrap() error { return e.Err }

// Result counts the operations one Sync applied successfully, by kind.
type Result struct {
	CreatedServices int
	UpdatedServices int
	DeletedServices int
	CreatedDests    int
	UpdatedDests    int
	DeletedDests    int
	// Failed counts the operations that failed (each is a SyncError).
	Failed int
}

// Ops returns the number of operations that changed the table.
func (r Result) Ops() int {
	return r.CreatedServices + r.UpdatedServices + r.DeletedServices +
		r.CreatedDests + r.UpdatedDests + r.DeletedDests
}

func (r *Result) count(op Op) {
	switch op {
	case OpCreateService:
		r.CreatedServices++
	case OpUpdateService:
		r.UpdatedServices++
	case OpDeleteService:
		r.DeletedServices++
	case OpCreateDestination:
		r.CreatedDests++
	case OpUpdateDestination:
		r.UpdatedDests++
	case OpDeleteDestination:
		r.DeletedDests++
	}
}
