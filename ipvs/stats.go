package ipvs

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ServiceStats are a service's counters with its destinations'.
type ServiceStats struct {
	ServiceState
	Destinations []DestinationState
}

// ReadStats reads from b the counters of the services keys names and of
// their destinations, in key order; without keys, of every service in b.
// A key b does not hold is left out. An interrupted dump is read again
// (internal/retry's rule).
func ReadStats(ctx context.Context, b Backend, keys ...ServiceKey) ([]ServiceStats, error) {
	list, err := dump(func() ([]ServiceState, error) { return b.Services(ctx) })
	if err != nil {
		return nil, fmt.Errorf("ipvs: stats: %w", err)
	}
	if len(keys) > 0 {
		want := make(map[ServiceKey]bool, len(keys))
		for _, k := range keys {
			want[k] = true
		}
		list = slices.DeleteFunc(list, func(st ServiceState) bool { return !want[st.ServiceKey] })
	}
	slices.SortFunc(list, func(a, b ServiceState) int { return a.ServiceKey.Compare(b.ServiceKey) })
	out := make([]ServiceStats, 0, len(list))
	for _, st := range list {
		dests, err := dump(func() ([]DestinationState, error) { return b.Destinations(ctx, st.ServiceKey) })
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the services were read
		}
		if err != nil {
			return nil, fmt.Errorf("ipvs: stats: service %v: %w", st.ServiceKey, err)
		}
		slices.SortFunc(dests, func(a, b DestinationState) int { return a.DestinationKey.Compare(b.DestinationKey) })
		out = append(out, ServiceStats{ServiceState: st, Destinations: dests})
	}
	return out, nil
}

// ReadStats reads the counters of the services the Syncer owns and of
// their destinations from its backend (see the function ReadStats).
func (s *Syncer) ReadStats(ctx context.Context) ([]ServiceStats, error) {
	keys := s.Owned()
	if len(keys) == 0 {
		return nil, nil
	}
	return ReadStats(ctx, s.b, keys...)
}
