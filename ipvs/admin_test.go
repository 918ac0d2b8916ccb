package ipvs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
)

func TestTimeoutsValidate(t *testing.T) {
	for _, tc := range []struct {
		t    ipvs.Timeouts
		want string // "" valid, else every substring
	}{
		{ipvs.Timeouts{}, ""},
		{ipvs.DefaultTimeouts, ""},
		{ipvs.Timeouts{TCP: ipvs.MaxTimeout, TCPFin: time.Second, UDP: 0}, ""},
		{ipvs.Timeouts{TCP: -time.Second}, "ipvs: timeouts: TCP: -1s out of range 0..744h0m0s"},
		{ipvs.Timeouts{TCPFin: ipvs.MaxTimeout + time.Second, UDP: 1500 * time.Millisecond}, "TCPFin: 744h0m1s out of range|UDP: 1.5s is not a whole number of seconds"},
	} {
		err := tc.t.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.t, err)
			}
			continue
		}
		if !errors.Is(err, ipvs.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", tc.t, err)
			continue
		}
		for _, w := range strings.Split(tc.want, "|") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %v, want %q", tc.t, err, w)
			}
		}
	}
	if got, want := ipvs.DefaultTimeouts.String(), "Timeout (tcp tcpfin udp): 900 120 300"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
