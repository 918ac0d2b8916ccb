package bgp_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// The tests run GoBGP servers, Speakers and Supervisors; none of their
// goroutines may outlive the tests, with one exception in GoBGP itself:
// when a session ends, GoBGP closes its outgoing queue (an eapache
// InfiniteChannel) and drains it without blocking, so a message still
// queued can leave the queue's goroutine blocked on sending it, for good.
// That is GoBGP's (v4.8.0 pkg/server/util.go cleanInfiniteChannel), not
// this package's. The binaries nstest.GoBuild built go with the run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(nstest.WithBuilds(m), goleak.IgnoreTopFunction("github.com/eapache/channels.(*InfiniteChannel).infiniteBuffer"))
}
