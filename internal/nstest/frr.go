package nstest

import "os/user"

// FRRGroup is the group to run FRR's daemons with (-g) when they run as
// root (-u root), so that they can use a test's root-owned directory: FRR
// refuses to start when its user is not in the vty group it was built
// with (Debian: frrvty) unless that is the group given.
func FRRGroup() string {
	if _, err := user.LookupGroup("frrvty"); err == nil {
		return "frrvty"
	}
	return "root"
}
