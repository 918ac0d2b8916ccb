package ipvs

import (
	"context"
	"fmt"
)

// A Change is one write to an IPVS table: what a Syncer applies.
type Change struct {
	// Op is a write: OpCreateService to OpDeleteDestination.
	Op Op
	// Service is the service written (its settings for a service create
	// or update), or, for the other operations, the one named by its key.
	Service Service
	// Dest is the destination of a destination operation (only its key
	// for a delete).
	Dest Destination
}

// String names the change as the kernel backend's errors do: "create
// service tcp 192.0.2.10:80", "update destination 10.0.0.1:80 of tcp
// 192.0.2.10:80".
func (c Change) String() string {
	switch c.Op {
	case OpCreateDestination, OpUpdateDestination, OpDeleteDestination:
		return fmt.Sprintf("%v %v of %v", c.Op, c.Dest.DestinationKey, c.Service.ServiceKey)
	}
	return fmt.Sprintf("%v %v", c.Op, c.Service.ServiceKey)
}

// A Batcher is a Backend that applies many writes in one call (the kernel
// backend sends them in a few netlink messages instead of one round trip
// each). A Syncer uses it when its Backend has it.
//
// Apply applies changes in order, as if each were the matching Backend
// method called one after the other: a destination created after its
// service in the same batch goes into that service, a failed change does
// not stop the ones after it. It returns one error per change (errs[i] for
// changes[i], nil when it was applied; len(errs) == len(changes)), with
// the same sentinels the single methods return. Between chunks it checks
// ctx: the changes not sent when ctx ends fail with an error wrapping
// ctx.Err().
type Batcher interface {
	Apply(ctx context.Context, changes []Change) []error
}

// ApplyEach applies changes one after the other through b's single
// methods, with Batcher's contract: one error per change, and the changes
// after the end of ctx not tried (their error wraps ctx.Err()). It is the
// Syncer's path for a Backend without Batcher.
func ApplyEach(ctx context.Context, b Backend, changes []Change) []error {
	errs := make([]error, len(changes))
	for i, c := range changes {
		if err := ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("ipvs: %v: %w", c, err)
			continue
		}
		errs[i] = c.apply(ctx, b)
	}
	return errs
}

// apply calls the Backend method of c.
func (c Change) apply(ctx context.Context, b Backend) error {
	key := c.Service.ServiceKey
	switch c.Op {
	case OpCreateService:
		return b.CreateService(ctx, c.Service)
	case OpUpdateService:
		return b.UpdateService(ctx, c.Service)
	case OpDeleteService:
		return b.DeleteService(ctx, key)
	case OpCreateDestination:
		return b.CreateDestination(ctx, key, c.Dest)
	case OpUpdateDestination:
		return b.UpdateDestination(ctx, key, c.Dest)
	case OpDeleteDestination:
		return b.DeleteDestination(ctx, key, c.Dest.DestinationKey)
	}
	return fmt.Errorf("ipvs: %v: not a write: %w", c.Op, ErrInvalid)
}
