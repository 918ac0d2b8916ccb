package ipvs

import "errors"

// Sentinel errors; wrapped errors say which object and which operation.
var (
	// ErrNotFound: the service or destination is not in the table.
	ErrNotFound = errors.New("ipvs: not found")
	// ErrExists: the service or destination is already in the table.
	ErrExists = errors.New("ipvs: already exists")
	// ErrNoIPVS: the kernel has no IPVS (the ip_vs module is not loaded
	// and the IPVS generic-netlink family is not registered).
	ErrNoIPVS = errors.New("ipvs: the kernel has no IPVS (load the ip_vs module)")
	// ErrUnsupported: the kernel or the backend cannot do what was asked
	// (for example a GUE tunnel through a backend without tunnel types).
	ErrUnsupported = errors.New("ipvs: not supported")
	// ErrDumpInterrupted: the table changed while it was being read
	// (NLM_F_DUMP_INTR); what was read is incomplete, read again.
	ErrDumpInterrupted = errors.New("ipvs: table dump interrupted")
)

// ErrInvalid: a service, destination or table breaks a rule of IPVS
// (see Service.Validate); the wrapping error names the object and the field.
var ErrInvalid = errors.New("ipvs: invalid")
