package check

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestValidate: each checker reports every misconfigured field at once,
// each as a *FieldError naming the checker and the field.
func TestValidate(t *testing.T) {
	ap := netip.MustParseAddrPort("192.0.2.1:80")
	for _, tc := range []struct {
		c      config
		fields []string
	}{
		{&TCP{}, []string{"Addr"}},
		{&HTTP{Path: "/\x7f", Digest: []byte{1}}, []string{"Addr", "Digest", "Path"}},
		{&SMTP{HELO: "a b"}, []string{"Addr", "HELO"}},
		{&DNS{Name: "a..b"}, []string{"Server", "Name"}},
		{&UDP{}, []string{"Addr"}},
		{&ICMP{}, []string{"Addr"}},
		{&Exec{}, []string{"Path"}},
		{&File{}, []string{"Path"}},
		{&TCP{Addr: ap}, nil},
		{&HTTP{Addr: ap, Path: "health?full=1"}, nil},
		{&SMTP{Addr: ap}, nil},
		{&DNS{Server: ap}, nil},
		{&ICMP{Addr: ap.Addr()}, nil},
		{&Exec{Path: "true"}, nil},
		{&File{Path: "f"}, nil},
	} {
		err := tc.c.Validate()
		var fields []string
		for _, e := range flatten(err) {
			var fe *FieldError
			if !errors.As(e, &fe) || !errors.Is(e, ErrInvalid) || fe.Object != tc.c.String() || !strings.HasPrefix(e.Error(), "check: "+tc.c.String()+": "+fe.Field+": ") {
				t.Errorf("%s: %q is not a *FieldError naming the checker", tc.c, e)
				continue
			}
			fields = append(fields, fe.Field)
		}
		if !slices.Equal(fields, tc.fields) {
			t.Errorf("%s: invalid %v (%v), want %v", tc.c, fields, err, tc.fields)
		}
	}
}

// flatten returns the errors joined in err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
