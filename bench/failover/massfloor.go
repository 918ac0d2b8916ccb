//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/vrrp"
	"golang.org/x/sys/unix"
)

// The mass floor (-mass -impl floor): B's side of a mass takeover done
// with nothing but the system calls the wire and the kernel need, to show
// what part of a daemon's lateness is the machine's. It is this program
// run again in B's namespace (`ip netns exec B BENCH mass-floor FLAGS`):
// one thread, one raw VRRP socket (receive and send), one packet socket
// for the gratuitous ARPs, one route netlink socket for the addresses,
// a timerfd on CLOCK_REALTIME (the clock of the kernel's receive
// timestamps) and epoll. It tracks each VRID's last advert from A by its
// receive timestamp and, once that VRID's Master_Down_Interval has passed,
// takes it over as a daemon does, with the same frames and the same
// kernel work: its advert as master, its VIP's gratuitous ARPs (-garps,
// keepalived's garp_master_repeat), the VIP added with the request vigil
// and keepalived send. Each wake-up does the takeovers due at it in the
// order that puts the network's news first: every due VRID's advert and
// first GARP, then one netlink write adding all their VIPs, then the
// repeats. It has no second burst (5 s later: outside the capture) and
// it ignores priority-0 adverts (-mass is SIGKILL only). IPv4 only, with
// the VRRP version the bench uses at the interval (v2 at whole seconds).
// With -vrids 1 it is the floor of a single takeover.
//
// It writes "ready" once it has heard every VRID, "MASTER <vrid>" lines
// for each wake-up's takeovers after its frames are sent, and its counts
// on SIGTERM, then exits 0.
const massFloorCmd = "mass-floor"

// massFloorFlags are the mass floor's flags.
type massFloorFlags struct {
	iface    string
	vrids    int
	interval time.Duration
	prio     int
	garps    int
	// approach is how long before a deadline the floor stops sleeping
	// and polls the socket and the clock (as vigil's final approach);
	// 0 sleeps in epoll_wait until the timer fires.
	approach time.Duration
}

func (f massFloorFlags) args() []string {
	return []string{massFloorCmd, "-interface", f.iface, "-vrids", fmt.Sprint(f.vrids), "-interval", f.interval.String(),
		"-priority", fmt.Sprint(f.prio), "-garps", fmt.Sprint(f.garps), "-approach", f.approach.String()}
}

// massFloorMain runs the mass floor if args name it; ok is false if
// they do not.
func massFloorMain(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 || args[0] != massFloorCmd {
		return 0, false
	}
	fs := flag.NewFlagSet(massFloorCmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f massFloorFlags
	fs.StringVar(&f.iface, "interface", "", "interface")
	fs.IntVar(&f.vrids, "vrids", 200, "VRIDs 1..N, VIP of VRID i as -mass lays them out")
	fs.DurationVar(&f.interval, "interval", 100*time.Millisecond, "advert interval")
	fs.IntVar(&f.prio, "priority", prioB, "priority (1..254)")
	fs.IntVar(&f.garps, "garps", 5, "gratuitous ARPs per VIP in the first burst")
	fs.DurationVar(&f.approach, "approach", 0, "poll the socket and the clock this long before a deadline (0: sleep until the timer fires)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2, true
	}
	if _, err := parseIntervals(f.interval.String()); f.iface == "" || f.vrids < 1 || f.vrids > 255 || err != nil ||
		f.prio < 1 || f.prio > 254 || f.garps < 1 || f.approach < 0 || f.approach > f.interval || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: want -interface, -vrids 1..255, an -interval as the bench's (whole seconds: VRRPv2; whole centiseconds below 1s: VRRPv3), -priority 1..254, -garps ≥ 1\n", massFloorCmd)
		return 2, true
	}
	if err := runMassFloor(f, stdout); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", massFloorCmd, err)
		return 1, true
	}
	return 0, true
}

// floorVRID is one VRID of the mass floor: what it sends, prepared at
// start, and what it knows.
type floorVRID struct {
	advert, garp, add []byte
	last              time.Time // A's last advert, as the kernel received it
	master            bool
}

// massFloor is the mass floor's state.
type massFloor struct {
	f                  massFloorFlags
	vfd, pfd, nfd, tfd int
	src                netip.Addr
	ll                 unix.SockaddrLinklayer
	group              unix.SockaddrInet4
	ids                []floorVRID // by VRID; 0 unused
	heard, masters     int
	mdi                time.Duration
	nextAdvert         time.Time // masters' periodic adverts
	// counts
	sendErrs, nlErrs int
	firstErr         error
}

func (m *massFloor) fail(err error) {
	if m.firstErr == nil {
		m.firstErr = err
	}
}

func runMassFloor(f massFloorFlags, stdout io.Writer) error {
	runtime.LockOSThread()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	ifi, err := net.InterfaceByName(f.iface)
	if err != nil {
		return err
	}
	m := &massFloor{f: f, ids: make([]floorVRID, f.vrids+1),
		mdi:   masterDown(f.interval, "ipv4", f.prio),
		group: unix.SockaddrInet4{Addr: vrrp.GroupV4.As4()},
		ll:    unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: htons(unix.ETH_P_ARP), Halen: 6}}
	copy(m.ll.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if m.src, err = vrrp.InterfaceAddr(ifi, false); err != nil {
		return err
	}
	if err := m.open(ifi); err != nil {
		return err
	}
	for id := 1; id <= f.vrids; id++ {
		vip := massVIP("ipv4", id)
		a := vrrp.Advertisement{Version: vrrp.Version(version(f.interval, "ipv4")), VRID: uint8(id), Priority: uint8(f.prio), Interval: f.interval, Addrs: []netip.Addr{vip.Addr()}}
		b, err := a.AppendMarshal(nil, m.src, vrrp.GroupV4)
		if err != nil {
			return fmt.Errorf("VRID %d: %w", id, err)
		}
		m.ids[id] = floorVRID{advert: b, garp: garpFrame(ifi.HardwareAddr, vip.Addr()), add: addAddrMessage(ifi.Index, vip, uint32(id))}
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	for _, fd := range []int{m.vfd, m.nfd, m.tfd} {
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- m.loop(epfd, stdout)
	}()
	select {
	case err := <-done:
		return err
	case <-term:
	}
	// The loop's thread may be anywhere: the counts are read racily, which
	// is fine for a report printed as the process exits.
	fmt.Fprintf(stdout, "counts: heard %d, masters %d, send errors %d, netlink errors %d, first error %v\n",
		m.heard, m.masters, m.sendErrs, m.nlErrs, m.firstErr)
	return nil
}

// open opens the floor's sockets and its timer.
func (m *massFloor) open(ifi *net.Interface) error {
	name := ifi.Name
	var err error
	// vrrp.Listen's send side, and it receives A's adverts with their
	// kernel receive times.
	m.vfd, err = benchkit.RawVRRPSocket(name, append(benchkit.SendOpts(ifi),
		benchkit.Opt("IP_ADD_MEMBERSHIP", func(fd int) error {
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, &unix.IPMreqn{Multiaddr: vrrp.GroupV4.As4(), Ifindex: int32(ifi.Index)})
		}),
		benchkit.Opt("SO_TIMESTAMPNS", func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) }),
		benchkit.Opt("O_NONBLOCK", func(fd int) error { return unix.SetNonblock(fd, true) }),
	))
	if err != nil {
		return err
	}
	// Protocol 0: a socket that sends frames and receives none.
	if m.pfd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	if m.nfd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE); err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(m.nfd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	if m.tfd, err = unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK); err != nil {
		return fmt.Errorf("timerfd_create: %w", err)
	}
	return nil
}

// loop is the floor's thread. It returns only on an error.
func (m *massFloor) loop(epfd int, stdout io.Writer) error {
	events := make([]unix.EpollEvent, 4)
	buf, oob := make([]byte, 2048), make([]byte, 256)
	nlbuf := make([]byte, 1<<16)
	var adds, out []byte
	var batch []int
	armed := time.Time{}
	for {
		// The timer: the earliest due takeover (-approach before it), or
		// the masters' next adverts.
		due := m.nextDue()
		next := due
		if !next.IsZero() {
			next = next.Add(-m.f.approach)
		}
		if m.masters > 0 && (next.IsZero() || m.nextAdvert.Before(next)) {
			next = m.nextAdvert
		}
		if !next.Equal(armed) {
			spec := unix.ItimerSpec{}
			if !next.IsZero() {
				spec.Value = unix.NsecToTimespec(next.UnixNano())
			}
			if err := unix.TimerfdSettime(m.tfd, unix.TFD_TIMER_ABSTIME, &spec, nil); err != nil {
				return fmt.Errorf("timerfd_settime: %w", err)
			}
			armed = next
		}
		if m.f.approach > 0 && !due.IsZero() && time.Until(due) <= m.f.approach {
			// The final approach: poll the socket and the clock until the
			// deadline, or until an advert moves it.
			for time.Now().Before(due) && m.nextDue().Equal(due) {
				if err := m.receive(buf, oob, stdout); err != nil {
					return err
				}
			}
			m.acks(nlbuf)
		} else if err := m.wait(epfd, events, buf, oob, nlbuf, stdout, &armed); err != nil {
			return err
		}
		now := time.Now()
		// The news first: every due VRID's advert and first GARP.
		batch, adds = batch[:0], adds[:0]
		for id := 1; id <= m.f.vrids; id++ {
			v := &m.ids[id]
			if v.last.IsZero() || v.master || now.Before(v.last.Add(m.mdi)) {
				continue
			}
			m.send(unix.Sendto(m.vfd, v.advert, 0, &m.group))
			m.send(unix.Sendto(m.pfd, v.garp, 0, &m.ll))
			v.master = true
			batch = append(batch, id)
			adds = append(adds, v.add...)
		}
		if len(batch) > 0 {
			if m.masters == 0 {
				m.nextAdvert = now.Add(m.f.interval)
			}
			m.masters += len(batch)
			// One write adds every VIP of the wake-up; the kernel acks each.
			m.send(unix.Sendto(m.nfd, adds, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}))
			for range m.f.garps - 1 {
				for _, id := range batch {
					m.send(unix.Sendto(m.pfd, m.ids[id].garp, 0, &m.ll))
				}
			}
			out = out[:0]
			for _, id := range batch {
				out = fmt.Appendf(out, "MASTER %d\n", id)
			}
			_, _ = stdout.Write(out)
		}
		if m.masters > 0 && !now.Before(m.nextAdvert) {
			for id := 1; id <= m.f.vrids; id++ {
				if m.ids[id].master {
					m.send(unix.Sendto(m.vfd, m.ids[id].advert, 0, &m.group))
				}
			}
			m.nextAdvert = m.nextAdvert.Add(m.f.interval)
			if m.nextAdvert.Before(now) {
				m.nextAdvert = now.Add(m.f.interval)
			}
		}
	}
}

// wait waits in epoll_wait for the sockets or the timer and handles
// what it finds; *armed is cleared when the timer has fired.
func (m *massFloor) wait(epfd int, events []unix.EpollEvent, buf, oob, nlbuf []byte, stdout io.Writer, armed *time.Time) error {
	n, err := unix.EpollWait(epfd, events, -1)
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("epoll_wait: %w", err)
	}
	for _, ev := range events[:n] {
		switch int(ev.Fd) {
		case m.vfd:
			if err := m.receive(buf, oob, stdout); err != nil {
				return err
			}
		case m.nfd:
			m.acks(nlbuf)
		case m.tfd:
			var b [8]byte
			_, _ = unix.Read(m.tfd, b[:])
			*armed = time.Time{} // fired: set it again
		}
	}
	return nil
}

// nextDue is the earliest Master_Down_Timer deadline of the VRIDs heard
// and not yet taken over; zero if none.
func (m *massFloor) nextDue() time.Time {
	var next time.Time
	for id := 1; id <= m.f.vrids; id++ {
		v := &m.ids[id]
		if v.last.IsZero() || v.master {
			continue
		}
		if d := v.last.Add(m.mdi); next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return next
}

func (m *massFloor) send(err error) {
	if err != nil {
		m.sendErrs++
		m.fail(err)
	}
}

// receive reads every advert queued on the VRRP socket: an advert from
// another router for one of the VRIDs restarts that VRID's timer from its
// receive time (an advert of priority 0 is ignored).
func (m *massFloor) receive(buf, oob []byte, stdout io.Writer) error {
	for {
		n, oobn, _, _, err := unix.Recvmsg(m.vfd, buf, oob, 0)
		if errors.Is(err, unix.EAGAIN) {
			return nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("recvmsg: %w", err)
		}
		p := buf[:n]
		if n < 20 || p[0]>>4 != 4 {
			continue
		}
		ihl := int(p[0]&0x0f) * 4
		if n < ihl+8 || netip.AddrFrom4([4]byte(p[12:16])) == m.src {
			continue
		}
		id, prio := int(p[ihl+1]), p[ihl+2]
		if id < 1 || id > m.f.vrids || prio == 0 {
			continue
		}
		ts, ok := rxTime(oob[:oobn])
		if !ok {
			return errors.New("recvmsg: no SCM_TIMESTAMPNS")
		}
		v := &m.ids[id]
		if v.last.IsZero() {
			m.heard++
			if m.heard == m.f.vrids {
				fmt.Fprintf(stdout, "ready: %s: heard VRIDs 1..%d on %s\n", massFloorCmd, m.f.vrids, m.f.iface)
			}
		}
		v.last = ts
	}
}

// rxTime is the SCM_TIMESTAMPNS of control data oob.
func rxTime(oob []byte) (time.Time, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if int(h.Len) < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			return time.Time{}, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && int(h.Len) >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
			return time.Unix(ts.Unix()), true
		}
		oob = oob[min(unix.CmsgSpace(int(h.Len)-unix.CmsgLen(0)), len(oob)):]
	}
	return time.Time{}, false
}

// acks reads the kernel's answers to the address adds and counts the
// errors among them.
func (m *massFloor) acks(buf []byte) {
	for {
		n, _, err := unix.Recvfrom(m.nfd, buf, 0)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				m.nlErrs++
				m.fail(err)
			}
			return
		}
		for p := buf[:n]; len(p) >= unix.SizeofNlMsghdr; {
			h := (*unix.NlMsghdr)(unsafe.Pointer(&p[0]))
			l := int(h.Len)
			if l < unix.SizeofNlMsghdr || l > len(p) {
				break
			}
			if h.Type == unix.NLMSG_ERROR && l >= unix.SizeofNlMsghdr+4 {
				if e := int32(binary.NativeEndian.Uint32(p[unix.SizeofNlMsghdr:])); e != 0 {
					m.nlErrs++
					m.fail(fmt.Errorf("VRID %d: RTM_NEWADDR: %w", h.Seq, syscall.Errno(-e)))
				}
			}
			p = p[min((l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(p)):]
		}
	}
}

// garpFrame is the gratuitous ARP keepalived and vigil send for vip from
// mac: a broadcast ARP request whose sender and target are the VIP.
func garpFrame(mac net.HardwareAddr, vip netip.Addr) []byte {
	b := make([]byte, 0, 42)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b = append(b, mac...)
	b = binary.BigEndian.AppendUint16(b, unix.ETH_P_ARP)
	b = binary.BigEndian.AppendUint16(b, 1)      // Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // IPv4
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, 1) // request
	a := vip.As4()
	b = append(b, mac...)
	b = append(b, a[:]...)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	return append(b, a[:]...)
}

// addAddrMessage is the RTM_NEWADDR request that adds vip to interface
// index as vigil's netlink.AddrManager adds a VIP (and keepalived does):
// IFA_LOCAL and IFA_ADDRESS, no broadcast, create and exclusive, acked;
// seq names the VRID in an error.
func addAddrMessage(index int, vip netip.Prefix, seq uint32) []byte {
	a := vip.Addr().As4()
	attr := func(b []byte, typ uint16) []byte {
		b = binary.NativeEndian.AppendUint16(b, 8)
		b = binary.NativeEndian.AppendUint16(b, typ)
		return append(b, a[:]...)
	}
	const l = unix.SizeofNlMsghdr + unix.SizeofIfAddrmsg + 16
	b := make([]byte, 0, l)
	b = binary.NativeEndian.AppendUint32(b, l)
	b = binary.NativeEndian.AppendUint16(b, unix.RTM_NEWADDR)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, unix.AF_INET, byte(vip.Bits()), 0, 0) // family, prefix length, flags, scope universe
	b = binary.NativeEndian.AppendUint32(b, uint32(index))
	b = attr(b, unix.IFA_LOCAL)
	return attr(b, unix.IFA_ADDRESS)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// massFloorNode is a mass floor process as a benchkit.Router: BACKUP
// of every VRID once ready, MASTER of those it has reported.
type massFloorNode struct {
	*benchkit.FloorProc
	n int
}

// startMassFloor runs this program as the mass floor in namespace ns.
func startMassFloor(ns string, f massFloorFlags) (*massFloorNode, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p, err := benchkit.StartFloor(self, ns, massFloorCmd, f.args()...)
	if err != nil {
		return nil, err
	}
	return &massFloorNode{FloorProc: p, n: f.vrids}, nil
}

var floorReadyLine = regexp.MustCompile(`(?m)^ready: `)

// States implements benchkit.Router.
func (f *massFloorNode) States(state string) int {
	s := f.Out.String()
	switch state {
	case "BACKUP": // every VRID, once it has heard them all
		if floorReadyLine.MatchString(s) {
			return f.n
		}
	case "MASTER":
		return strings.Count(s, "\nMASTER ")
	}
	return 0
}

// AwaitStates implements benchkit.Router.
func (f *massFloorNode) AwaitStates(ctx context.Context, state string, n int, limit time.Duration) error {
	what := fmt.Sprintf("floor %d x %s", n, state)
	var err error
	if state == "MASTER" { // one line per takeover, in the burst: look at each once
		err = f.Out.AwaitLines(ctx, limit, what, n, func(line string) bool { return strings.HasPrefix(line, "MASTER ") }, f.P.Exited)
	} else {
		err = f.Out.Await(ctx, limit, what, func(string) bool { return f.States(state) >= n || f.P.Exited() })
	}
	if err == nil && f.States(state) < n {
		err = fmt.Errorf("floor exited (%v): %s", f.P.Err(), f.Out.Tail(10))
	}
	return err
}
