package vrrp

// AdvertOptions are keepalived's options on when adverts are sent and
// awaited (vrrp_instance down_timer_adverts, lower_prio_no_advert,
// higher_prio_send_advert, and their global vrrp_ forms). The zero value
// is keepalived's default and RFC 5798's behaviour.
type AdvertOptions struct {
	// DownTimerAdverts is how many advert intervals make
	// Master_Down_Interval: DownTimerAdverts × Master_Adver_Interval +
	// Skew_Time. 0 means 3 (RFC 5798); 1..100.
	DownTimerAdverts int
	// LowerPrioNoAdvert: a master that hears a lower priority master
	// does not answer with an advert at once (it still announces its
	// addresses); the other master learns of it at our next advert.
	LowerPrioNoAdvert bool
	// HigherPrioSendAdvert: a master that hears a higher priority master
	// sends one advert of its own before it becomes Backup, so that a
	// third router that took the other for master learns of both.
	HigherPrioSendAdvert bool
}

// DefaultDownTimerAdverts is AdvertOptions.DownTimerAdverts's default.
const DefaultDownTimerAdverts = 3

// downTimerAdverts is DownTimerAdverts with its default.
func (o *AdvertOptions) downTimerAdverts() int {
	if o.DownTimerAdverts == 0 {
		return DefaultDownTimerAdverts
	}
	return o.DownTimerAdverts
}

// problems checks o, naming object in the errors.
func (o *AdvertOptions) problems(object string) []error {
	if o.DownTimerAdverts < 0 || o.DownTimerAdverts > 100 {
		return []error{invalid(object, "DownTimerAdverts", "%d, want 1..100 (0: %d)", o.DownTimerAdverts, DefaultDownTimerAdverts)}
	}
	return nil
}
