//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/vrrp"
	"golang.org/x/sys/unix"
)

// The floor: the master node's adverts sent, and the backup node's
// received, with nothing but the system calls the job needs, to show how
// much of a daemon's CPU per advert is the kernel's work on the packet.
// Both are this program run again in the node's namespace (`ip netns exec
// NS BENCH floor-send|floor-recv FLAGS`). Each writes one line starting
// with "ready" to stdout once it is up, and on SIGTERM its counts, then
// exits 0. The sender wakes -wakes times per interval (the bench's
// -floor-wakes, 1 by default): waking a sleeping thread costs more than
// sending an advert, so a sender waking once per advert measures
// wake-ups more than the kernel's work on the packets.
const (
	floorSendCmd = "floor-send"
	floorRecvCmd = "floor-recv"
)

// floorMain runs the floor process args[0] names; ok is false when
// args[0] names none.
func floorMain(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 || (args[0] != floorSendCmd && args[0] != floorRecvCmd) {
		return 0, false
	}
	f, err := parseFloorFlags(args[0], args[1:], stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[0], err)
		return 2, true
	}
	if args[0] == floorSendCmd {
		err = runSender(f, stdout)
	} else {
		err = runReceiver(f, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[0], err)
		return 1, true
	}
	return 0, true
}

// floorFlags are a floor process's flags: the instances of l, at
// interval, with priority prio, sent at wakes wake-ups per interval
// (the sender's).
type floorFlags struct {
	l        layout
	interval time.Duration
	prio     int
	wakes    int
}

// floorArgs are the arguments of the floor process cmd for f.
func floorArgs(cmd string, f floorFlags) []string {
	return []string{cmd, "-instances", fmt.Sprint(f.l.n), "-interval", f.interval.String(),
		"-priority", fmt.Sprint(f.prio), "-wakes", fmt.Sprint(f.wakes)}
}

func parseFloorFlags(cmd string, args []string, stderr io.Writer) (floorFlags, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("instances", 0, "instances, laid out as the bench lays them out")
	var f floorFlags
	fs.DurationVar(&f.interval, "interval", 100*time.Millisecond, "advert interval (VRRPv3)")
	fs.IntVar(&f.prio, "priority", masterPriority, "the adverts' priority")
	fs.IntVar(&f.wakes, "wakes", 1, "wake-ups per interval (1..instances)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if f.l, err = layoutFor(*n); err != nil {
		return f, err
	}
	if f.interval <= 0 || f.prio < 1 || f.prio > 254 || f.wakes < 1 || f.wakes > f.l.n {
		return f, fmt.Errorf("-interval %v -priority %d -wakes %d: want a positive interval, a priority in 1..254 and 1..%d wake-ups",
			f.interval, f.prio, f.wakes, f.l.n)
	}
	return f, nil
}

// plan is the sender's timetable: n adverts per interval, sent at
// wakes wake-ups spread evenly over it (1..n), instance g at wake-up
// g*wakes/n. Instance g's k-th advert is due at
// (g*wakes/n)*interval/wakes + k*interval from the start: with wakes =
// n, at g*interval/n, one advert per wake-up; with 1, every instance at
// the start of each interval, in one burst. Advert number k overall is
// instance k%n's in round k/n.
type plan struct {
	n        int
	interval time.Duration
	wakes    int
}

// at is when advert k is due.
func (p plan) at(k int) time.Duration {
	slot := (k % p.n) * p.wakes / p.n
	return time.Duration(k/p.n)*p.interval + time.Duration(slot)*p.interval/time.Duration(p.wakes)
}

// due returns end: the adverts next..end-1 are due at t, advert end is
// not (end is next when none is).
func (p plan) due(next int, t time.Duration) (end int) {
	for end = next; p.at(end) <= t; end++ {
	}
	return end
}

// floorAdvert is one instance's advert as it goes on the wire.
type floorAdvert struct {
	iface int // interface j: eth{j}
	b     []byte
}

// floorAdverts marshals every instance's advert once, with vigil's codec,
// as vrrpd's instances (vrrpdArgs) send them: instance g on interface
// g/per with VRID g%per+1, VRRPv3, priority prio, the interval, the
// one VIP vip(g), from the interface's address src(j) to 224.0.0.18.
func floorAdverts(l layout, interval time.Duration, prio int, src func(j int) netip.Addr) ([]floorAdvert, error) {
	out := make([]floorAdvert, l.n)
	for g := range l.n {
		a := vrrp.Advertisement{Version: vrrp.V3, VRID: uint8(g%l.per + 1), Priority: uint8(prio),
			Interval: interval, Addrs: []netip.Addr{vip(g).Addr()}}
		j := g / l.per
		b, err := a.AppendMarshal(nil, src(j), vrrp.GroupV4)
		if err != nil {
			return nil, fmt.Errorf("instance %d: %w", g+1, err)
		}
		out[g] = floorAdvert{iface: j, b: b}
	}
	return out, nil
}

// floorCounts are one socket's counts, read by the main goroutine while
// the socket's thread runs.
type floorCounts struct {
	ok, failed atomic.Uint64
	firstErr   atomic.Pointer[string]
}

func (c *floorCounts) fail(err error) {
	s := err.Error()
	c.firstErr.CompareAndSwap(nil, &s) // before the count: String reads it when the count is not 0
	c.failed.Add(1)
}

func (c *floorCounts) String() string {
	s := fmt.Sprintf("%d", c.ok.Load())
	if n := c.failed.Load(); n > 0 {
		s += fmt.Sprintf(" (%d errors, the first: %s)", n, *c.firstErr.Load())
	}
	return s
}

// floorSender is one interface's raw socket of the sender.
type floorSender struct {
	fd  int
	src netip.Addr    // the adverts' source address
	to  unix.Sockaddr // 224.0.0.18; nil for a connected socket
	n   floorCounts
}

// openSender opens interface name's socket as vrrp.Listen sets up its
// send side: bound to the interface, TTL and multicast TTL 255, DSCP
// CS6, multicast loopback off, multicast interface set. It joins no
// group and asks for no control messages: the master node receives
// nothing. Its source address is vrrpd's (vrrp.InterfaceAddr).
func openSender(name string) (*floorSender, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	src, err := vrrp.InterfaceAddr(ifi, false)
	if err != nil {
		return nil, err
	}
	fd, err := benchkit.RawVRRPSocket(name, benchkit.SendOpts(ifi))
	if err != nil {
		return nil, err
	}
	return &floorSender{fd: fd, src: src, to: &unix.SockaddrInet4{Addr: vrrp.GroupV4.As4()}}, nil
}

// runSender sends f's adverts until SIGTERM.
func runSender(f floorFlags, stdout io.Writer) error {
	term := floorSignals()
	socks, err := openEach(f.l, openSender)
	if err != nil {
		return err
	}
	adverts, err := floorAdverts(f.l, f.interval, f.prio, func(j int) netip.Addr { return socks[j].src })
	if err != nil {
		return err
	}
	ready, errc := make(chan struct{}), make(chan error, 1)
	var stop atomic.Bool
	go func() {
		runtime.LockOSThread()
		errc <- sendLoop(socks, adverts, plan{f.l.n, f.interval, f.wakes}, ready, &stop)
	}()
	select {
	case <-ready:
	case err := <-errc:
		return err
	}
	fmt.Fprintf(stdout, "ready: %s: %d instances on %d interface(s), every %v in %d wake-up(s), the first round sent\n",
		floorSendCmd, f.l.n, f.l.ifaces, f.interval, f.wakes)
	select {
	case <-term:
		stop.Store(true)
		if err := <-errc; err != nil {
			return err
		}
	case err := <-errc:
		return err
	}
	for j, s := range socks {
		fmt.Fprintf(stdout, "%s: adverts sent: %s\n", iface(j), &s.n)
	}
	return nil
}

// sendLoop is the sender's thread: it sleeps until the next advert is
// due (clock_nanosleep, absolute), sends every advert due then (one
// sendto(2) each), and closes ready once every instance has sent one.
// It returns after the wake-up that finds stop set, or on a clock
// error. vrrpd sends with sendmsg(2) and an
// IP_PKTINFO control message naming the source address and interface;
// sendto(2) without one leaves the source to the kernel, which takes the
// interface's primary address: the same address, the same bytes.
func sendLoop(socks []*floorSender, adverts []floorAdvert, p plan, ready chan<- struct{}, stop *atomic.Bool) error {
	clk, err := startMonotonic()
	if err != nil {
		return err
	}
	for next := 0; ; {
		if err := clk.sleepUntil(p.at(next)); err != nil {
			return err
		}
		if stop.Load() {
			return nil
		}
		// clock_nanosleep returned: advert next is due, at least.
		end := max(p.due(next, clk.since()), next+1)
		for k := next; k < end; k++ {
			a := &adverts[k%p.n]
			s := socks[a.iface]
			if err := unix.Sendto(s.fd, a.b, 0, s.to); err != nil {
				s.n.fail(err)
			} else {
				s.n.ok.Add(1)
			}
		}
		if next < p.n && end >= p.n {
			close(ready)
		}
		next = end
	}
}

// monotonic is CLOCK_MONOTONIC as the sender reads it: the time since
// its start from the runtime's clock (the same clock through the vDSO:
// no system call), and sleeps to an absolute time of it with
// clock_nanosleep(2).
type monotonic struct {
	t0   time.Time
	base int64 // CLOCK_MONOTONIC in ns, read right after t0
}

func startMonotonic() (monotonic, error) {
	// t0 first: base is then no earlier than t0, so that after a sleep
	// until base+d, since() is at least d.
	m := monotonic{t0: time.Now()}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return m, fmt.Errorf("clock_gettime: %w", err)
	}
	m.base = ts.Nano()
	return m, nil
}

func (m monotonic) since() time.Duration { return time.Since(m.t0) }

// sleepUntil sleeps until d after the start.
func (m monotonic) sleepUntil(d time.Duration) error {
	ts := unix.NsecToTimespec(m.base + int64(d))
	for {
		err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return fmt.Errorf("clock_nanosleep: %w", err)
			}
			return nil
		}
	}
}

// floorReceiver is one interface's raw socket of the receiver and the
// recvmsg(2) arguments its thread reuses.
type floorReceiver struct {
	fd   int
	n    floorCounts
	hdr  unix.Msghdr
	iov  unix.Iovec
	from [unix.SizeofSockaddrInet4]byte
	buf  []byte
	oob  []byte
}

// oobLen is room for the control messages vrrpd's socket asks for
// (IP_TTL, IP_PKTINFO, SCM_TIMESTAMPNS), as vrrp's reader makes it: a
// buffer too short for them would spare the kernel part of its work.
var oobLen = unix.CmsgSpace(4) + unix.CmsgSpace(unix.SizeofInet6Pktinfo) +
	unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))) + 64

// openReceiver opens interface name's socket with the receive options of
// vrrp.Listen that cost per packet: bound to the interface, joined to
// 224.0.0.18 there, the kernel's receive time (SO_TIMESTAMPNS), the TTL
// (IP_RECVTTL) and the destination and interface (IP_PKTINFO) as control
// messages, and vrrpd's receive buffer. (vrrp.Listen's IP_RECVERR and
// its send options cost nothing per received advert.)
func openReceiver(name string) (*floorReceiver, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := benchkit.RawVRRPSocket(name, []benchkit.SockOpt{
		benchkit.Opt("SO_BINDTODEVICE", func(fd int) error { return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name) }),
		benchkit.Opt("SO_RCVBUF", func(fd int) error {
			// FORCE passes net.core.rmem_max with CAP_NET_ADMIN.
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, vrrp.DefaultReceiveBuffer); err != nil {
				return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, vrrp.DefaultReceiveBuffer)
			}
			return nil
		}),
		benchkit.Opt("SO_TIMESTAMPNS", func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) }),
		benchkit.Opt("IP_RECVTTL", func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1) }),
		benchkit.Opt("IP_PKTINFO", func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1) }),
		benchkit.Opt("IP_ADD_MEMBERSHIP", func(fd int) error {
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
				&unix.IPMreqn{Multiaddr: vrrp.GroupV4.As4(), Ifindex: int32(ifi.Index)})
		}),
	})
	if err != nil {
		return nil, err
	}
	r := &floorReceiver{fd: fd, buf: make([]byte, 2048), oob: make([]byte, oobLen)}
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(len(r.buf))
	r.hdr.Name = &r.from[0]
	r.hdr.Iov = &r.iov
	r.hdr.SetIovlen(1)
	r.hdr.Control = &r.oob[0]
	return r, nil
}

// runReceiver receives on every interface of f.l until SIGTERM.
func runReceiver(f floorFlags, stdout io.Writer) error {
	term := floorSignals()
	socks, err := openEach(f.l, openReceiver)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ready: %s: joined 224.0.0.18 on %d interface(s)\n", floorRecvCmd, f.l.ifaces)
	errc := make(chan error, len(socks))
	for j, r := range socks {
		go func() {
			runtime.LockOSThread()
			errc <- fmt.Errorf("%s: %w", iface(j), r.loop())
		}()
	}
	select {
	case <-term:
	case err := <-errc:
		return err
	}
	for j, r := range socks {
		fmt.Fprintf(stdout, "%s: adverts received: %s\n", iface(j), &r.n)
	}
	return nil
}

// loop is a receiver's thread: a blocking recvmsg(2) into the same
// buffers, counted. The first message must be a valid advert
// (checkAdvert): a backup would take the floor's adverts. It returns
// only on an error.
func (r *floorReceiver) loop() error {
	for {
		// The kernel writes back the lengths and flags: set them afresh.
		r.hdr.Namelen = uint32(len(r.from))
		r.hdr.SetControllen(len(r.oob))
		r.hdr.Flags = 0
		n, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.hdr)), 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return fmt.Errorf("recvmsg: %w", errno)
		}
		if r.n.ok.Add(1) == 1 {
			if err := checkFirst(r.buf[:n], r.oob[:r.hdr.Controllen], r.hdr.Flags); err != nil {
				return err
			}
		}
	}
}

// checkFirst checks a receiver's first message, p with control data oob
// and recvmsg(2)'s flags: it must be an advert a backup accepts
// (checkAdvert), with the TTL, packet info and receive time in full,
// so that the kernel did the work it does for vrrpd.
func checkFirst(p, oob []byte, flags int32) error {
	if flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
		return fmt.Errorf("recvmsg: message or control data truncated (flags %#x)", flags)
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("control data: %w", err)
	}
	var have []string
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS:
			have = append(have, "SCM_TIMESTAMPNS")
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TTL:
			have = append(have, "IP_TTL")
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO:
			have = append(have, "IP_PKTINFO")
		}
	}
	if len(have) != 3 {
		return fmt.Errorf("control data %v, want SCM_TIMESTAMPNS, IP_TTL and IP_PKTINFO", have)
	}
	return checkAdvert(p)
}

// checkAdvert reports whether p, an IPv4 packet as a raw socket receives
// it, holds a VRRP advert a backup accepts: TTL 255, and a message
// vrrp.Parse takes with the packet's source (its checksum covers it).
func checkAdvert(p []byte) error {
	if len(p) < 20 || p[0]>>4 != 4 || int(p[0]&0x0f)*4 > len(p) {
		return fmt.Errorf("not an IPv4 packet: % x", p)
	}
	if p[8] != vrrp.TTL {
		return fmt.Errorf("advert with TTL %d, want %d", p[8], vrrp.TTL)
	}
	src := netip.AddrFrom4([4]byte(p[12:16]))
	if _, err := vrrp.Parse(p[int(p[0]&0x0f)*4:], src, vrrp.GroupV4); err != nil {
		return fmt.Errorf("advert from %v: %w", src, err)
	}
	return nil
}

// openEach opens a socket with open on each interface of l, eth0 first.
func openEach[T any](l layout, open func(name string) (T, error)) ([]T, error) {
	var out []T
	for j := range l.ifaces {
		s, err := open(iface(j))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// floorSignals returns the channel of SIGTERM and SIGINT.
func floorSignals() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	return c
}
