package notify

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// DefaultScriptUser is the user keepalived runs scripts as when neither
// the script nor script_user names one, if that user exists.
const DefaultScriptUser = "keepalived_script"

// LookupUser resolves a script's "USER [[:]GROUP]" as keepalived's
// set_uid_gid does (keepalived/core/notify.c): the user's uid and primary
// group; GROUP, if given, instead of the primary group. Supplementary
// groups are set, to every group the user is a member of (its primary
// group included), when supplementary is true (keepalived's
// set_supplementary_groups) or GROUP starts with ':'; a GROUP of ":" alone
// asks for them and keeps the primary group. Names only: like keepalived,
// LookupUser does not take numbers.
func LookupUser(name, group string, supplementary bool) (*User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("notify: script user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("notify: script user %q: %w", name, err)
	}
	if rest, ok := strings.CutPrefix(group, ":"); ok {
		supplementary = true
		group = rest
	}
	out := &User{UID: uint32(uid), GID: uint32(gid)}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("notify: script group %q: %w", group, err)
		}
		n, err := strconv.ParseUint(g.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("notify: script group %q: %w", group, err)
		}
		out.GID = uint32(n)
	}
	if supplementary {
		ids, err := u.GroupIds()
		if err != nil {
			return nil, fmt.Errorf("notify: groups of script user %q: %w", name, err)
		}
		for _, id := range ids {
			n, err := strconv.ParseUint(id, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("notify: groups of script user %q: %w", name, err)
			}
			out.Groups = append(out.Groups, uint32(n))
		}
	}
	return out, nil
}

// DefaultUser is the user of a script configured without one, when
// script_user is not set, as keepalived's get_default_script_user
// chooses it: DefaultScriptUser if that user exists; otherwise nil, this
// process's user (normally root), except that with sec.Enabled that
// fallback is refused with ErrNoDefaultUser, and keepalived then ignores
// every script configured without a user. When script_user is set,
// callers use LookupUser(script_user, group, supplementary) instead; if
// that fails, keepalived ignores those scripts whatever sec says.
func DefaultUser(sec Security, supplementary bool) (*User, error) {
	u, err := LookupUser(DefaultScriptUser, "", supplementary)
	if err == nil {
		return u, nil
	}
	if sec.Enabled {
		return nil, fmt.Errorf("%w: %w", ErrNoDefaultUser, err)
	}
	return nil, nil
}
