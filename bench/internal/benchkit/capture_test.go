package benchkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// A buffered capture's file holds every packet sent BufferedLag before
// Stop: tcpdump, woken once a block, has written them by then.
func TestBufferedCaptureLag(t *testing.T) {
	nstest.Root(t)
	nstest.NeedTools(t, "ip", "tcpdump")
	ns := fmt.Sprintf("vgcap%d", os.Getpid())
	nstest.MustRun(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if _, err := nstest.Run("ip", "netns", "del", ns); err != nil {
			t.Error(err)
		}
	})
	nstest.MustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file := filepath.Join(t.TempDir(), "lo.pcap")
	cp, err := StartBufferedCapture(ctx, ns, "lo", file, 128, "udp dst port 9")
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()

	var conn net.PacketConn
	if err := nstest.DoInNamed(ns, func() (err error) {
		conn, err = net.ListenPacket("udp4", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Unconnected: nothing listens on port 9, and the ICMP errors that
	// come back are not reported to (nor do they stop) the next send.
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	const sent = 100
	for i := range sent {
		if _, err := conn.WriteTo([]byte{byte(i)}, to); err != nil {
			t.Fatal(err)
		}
	}

	time.Sleep(BufferedLag) // the contract under test: all written by then
	if err := cp.Stop(); err != nil {
		t.Fatal(err)
	}
	got := 0
	if err := ReadFrames(file, func(*Frame) { got++ }); err != nil {
		t.Fatal(err)
	}
	if got != sent || cp.Dropped != 0 {
		t.Errorf("%d packets in the file, %d dropped; want %d and none", got, cp.Dropped, sent)
	}
}
