package ipvs

import "errors"

// Sentinel errors; wrapped errors say which object and which operation.
var (
	// ErrNotFound: the service or destination is not in the table.
	ErrNotFound = errors.New("ipvs: not found")
	// ErrExists: the service or destination is already in the table.
	ErrExists = errors.New("ipvs: already exists")
	// ErrNoIPVS: the kernel has no IPVS (the ip_vs module is not loaded
	// and the IPVS generic-netlink family is not registered). Load the
	// module (modprobe ip_vs) and Open again.
	ErrNoIPVS = errors.New("ipvs: the kernel has no IPVS (load the ip_vs module)")
	// ErrStaleFamily: the kernel has IPVS, but this process cannot reach
	// it: another part of the process used github.com/moby/ipvs before
	// the ip_vs module was loaded, and moby/ipvs keeps what it looked up
	// then for the life of the process. Restart the process.
	ErrStaleFamily = errors.New("ipvs: this process cannot reach IPVS (github.com/moby/ipvs looked it up before ip_vs was loaded); restart the process")
	// ErrUnsupported: the kernel or the backend cannot do what was asked
	// (for example a GUE tunnel through a backend without tunnel types).
	ErrUnsupported = errors.New("ipvs: not supported")
	// ErrDumpInterrupted: the table changed while it was being read
	// (NLM_F_DUMP_INTR); what was read is incomplete, read again.
	ErrDumpInterrupted = errors.New("ipvs: table dump interrupted")
	// ErrRan: Run was called on a value that runs once (a Balancer), a
	// second time.
	ErrRan = errors.New("ipvs: already ran")
	// ErrClosed: the backend was used after its Close.
	ErrClosed = errors.New("ipvs: backend closed")
)

// ErrInvalid: a service, destination, table or configuration breaks a
// rule (see Service.Validate, PoolConfig.Validate); the wrapping
// *FieldError names the object and the field.
var ErrInvalid = errors.New("ipvs: invalid")
