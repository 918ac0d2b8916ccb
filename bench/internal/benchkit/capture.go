//go:build linux

package benchkit

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Capture is tcpdump writing a pcap file in a namespace.
type Capture struct {
	File    string
	p       *Proc
	stderr  *Log
	Dropped int // packets dropped by the kernel, known after Stop
}

// StartCapture runs `tcpdump -i iface --immediate-mode -U -n -w file` in
// namespace ns (without --immediate-mode packets still buffered are lost
// on stop) and waits until it is listening.
func StartCapture(ctx context.Context, ns, iface, file string, snaplen int, filter string) (*Capture, error) {
	return startCapture(ctx, ns, iface, file, snaplen, filter, true)
}

// BufferedLag bounds how late a StartBufferedCapture's packet reaches
// its file: libpcap's buffer timeout, tcpdump's default of one second
// (the kernel hands libpcap a block of packets when it is full or that
// old), and two seconds for tcpdump to be scheduled and write it.
const BufferedLag = 3 * time.Second

// StartBufferedCapture is StartCapture without --immediate-mode: tcpdump
// is woken once a block of packets, not once a packet. A wake-up of the
// capture is charged to whoever sent the packet (the bridge's receive
// path runs in the sender's system call), so a benchmark of the
// senders' CPU uses this one. Packets reach the file up to BufferedLag
// late, and those not yet handed on are lost at Stop: wait BufferedLag
// after the last packet that must be in the file before Stop.
func StartBufferedCapture(ctx context.Context, ns, iface, file string, snaplen int, filter string) (*Capture, error) {
	return startCapture(ctx, ns, iface, file, snaplen, filter, false)
}

func startCapture(ctx context.Context, ns, iface, file string, snaplen int, filter string, immediate bool) (*Capture, error) {
	c := &Capture{File: file, stderr: &Log{}}
	args := []string{"ip", "netns", "exec", ns, "tcpdump", "-i", iface}
	if immediate {
		args = append(args, "--immediate-mode")
	}
	args = append(args, "-U", "-n", "-Z", "root", "-B", "8192", "-s", strconv.Itoa(snaplen), "-w", file)
	if filter != "" {
		args = append(args, filter)
	}
	p, err := Start("tcpdump", io.Discard, c.stderr, args...)
	if err != nil {
		return nil, err
	}
	c.p = p
	err = c.stderr.Await(ctx, 10*time.Second, "tcpdump listening", func(s string) bool {
		return strings.Contains(s, "listening on") || p.Exited()
	})
	if err == nil && p.Exited() {
		err = errors.New("tcpdump exited")
	}
	if err != nil {
		c.p.Stop(syscall.SIGKILL, time.Second)
		return nil, fmt.Errorf("tcpdump on %s/%s: %w: %s", ns, iface, err, c.stderr.Tail(5))
	}
	return c, nil
}

var droppedRE = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// Stop stops tcpdump (SIGINT: it flushes and reports its counters) and
// waits for it. It is safe to call twice.
func (c *Capture) Stop() error {
	if c == nil || c.p == nil {
		return nil
	}
	err := c.p.Stop(syscall.SIGINT, 5*time.Second)
	if m := droppedRE.FindStringSubmatch(c.stderr.String()); m != nil {
		c.Dropped, _ = strconv.Atoi(m[1])
	}
	return err
}

// Frame is one captured frame, decoded as far as the benches need.
type Frame struct {
	Time   time.Time
	SrcMAC net.HardwareAddr
	// ARP (EtherType 0x0806).
	IsARP       bool
	ARPOp       uint16
	ARPSender   netip.Addr
	ARPTarget   netip.Addr
	ARPSenderHW net.HardwareAddr
	// ICMPv6 neighbour advertisement (type 136) and its target.
	IsNA     bool
	NATarget netip.Addr
	// VRRP over IPv4 or IPv6.
	IsVRRP           bool
	SrcIP            netip.Addr
	VRRPVersion      uint8
	VRID, Priority   uint8
	AdvertIntervalCS uint16 // v3: centiseconds; v2: seconds
}

// Announces reports whether f is a gratuitous ARP (sender and target
// address a) or a neighbour advertisement for target a.
func (f *Frame) Announces(a netip.Addr) bool {
	if a.Is4() {
		return f.IsARP && f.ARPSender == a && f.ARPTarget == a
	}
	return f.IsNA && f.NATarget == a
}

// ReadFrames calls fn for every frame of a pcap file of Ethernet frames
// (VRRP adverts over IPv4 and IPv6, ARP and neighbour advertisements are
// decoded, the rest only timestamped).
func ReadFrames(file string, fn func(*Frame)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return fmt.Errorf("%s: link type %v, want Ethernet", file, r.LinkType())
	}
	var fr Frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// tcpdump killed mid-write leaves a truncated last record.
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("%s: %w", file, err)
		}
		fr = Frame{Time: ci.Timestamp}
		decode(data, &fr)
		fn(&fr)
	}
}

// decode fills fr from an Ethernet frame. Hand-decoded: gopacket's VRRP
// layer knows only version 2.
func decode(b []byte, fr *Frame) {
	if len(b) < 14 {
		return
	}
	fr.SrcMAC = net.HardwareAddr(b[6:12])
	et := binary.BigEndian.Uint16(b[12:14])
	p := b[14:]
	if et == 0x8100 && len(p) >= 4 { // one VLAN tag
		et = binary.BigEndian.Uint16(p[2:4])
		p = p[4:]
	}
	switch et {
	case 0x0806:
		// htype 1, ptype 0x0800, hlen 6, plen 4.
		if len(p) < 28 || p[4] != 6 || p[5] != 4 {
			return
		}
		fr.IsARP = true
		fr.ARPOp = binary.BigEndian.Uint16(p[6:8])
		fr.ARPSenderHW = net.HardwareAddr(p[8:14])
		fr.ARPSender = netip.AddrFrom4([4]byte(p[14:18]))
		fr.ARPTarget = netip.AddrFrom4([4]byte(p[24:28]))
	case 0x0800:
		if len(p) < 20 || p[0]>>4 != 4 {
			return
		}
		ihl := int(p[0]&0x0f) * 4
		if p[9] != 112 || len(p) < ihl+8 {
			return
		}
		fr.SrcIP = netip.AddrFrom4([4]byte(p[12:16]))
		decodeVRRP(p[ihl:], fr)
	case 0x86dd:
		// A fixed header and no extension headers: what VRRP and NA use.
		if len(p) < 40 || p[0]>>4 != 6 {
			return
		}
		next, body := p[6], p[40:]
		fr.SrcIP = netip.AddrFrom16([16]byte(p[8:24]))
		switch {
		case next == 112 && len(body) >= 8:
			decodeVRRP(body, fr)
		case next == 58 && len(body) >= 24 && body[0] == 136:
			fr.IsNA = true
			fr.NATarget = netip.AddrFrom16([16]byte(body[8:24]))
		}
	}
}

// decodeVRRP fills fr from a VRRP packet (at least 8 bytes).
func decodeVRRP(v []byte, fr *Frame) {
	fr.IsVRRP = true
	fr.VRRPVersion = v[0] >> 4
	fr.VRID = v[1]
	fr.Priority = v[2]
	if fr.VRRPVersion == 3 {
		fr.AdvertIntervalCS = binary.BigEndian.Uint16(v[4:6]) & 0x0fff
	} else {
		fr.AdvertIntervalCS = uint16(v[5])
	}
}
