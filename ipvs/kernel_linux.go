package ipvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vigil-ha/vigil/internal/logx"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Kernel is the kernel's IPVS table in one network namespace, reached
// over generic netlink. It implements Backend and Batcher; its methods may
// be called from several goroutines (they are serialized: one netlink
// socket, one reply stream). After Close they fail with ErrClosed.
//
// What the caller needs: CAP_NET_ADMIN in the namespace's user namespace
// (every IPVS netlink command, reads included, needs it), and the ip_vs
// module loaded (or IPVS built in) before Open, with the ip_vs_<sched>
// modules of the schedulers used (the kernel loads those on demand when
// it can). Open never loads modules.
//
// Every forwarding method, tunnel types IPIP, GUE (with its port) and GRE
// with the checksum flag, and real servers of the other address family
// than their service behind tunnels are written and read back; reads
// return 64-bit counters (STATS64) when the kernel sends them, else the
// 32-bit ones (STATS). Writes in bulk (Apply, the Batcher a Syncer uses)
// send up to a few hundred IPVS requests in one sendmsg and match each
// error the kernel answers to its change by sequence number (only the
// last request of a sendmsg asks for an ACK).
//
// Kernel facts callers see: tunnel types, ports and checksums need Linux
// 5.3 (GUE 5.2); older kernels ignore those attributes, so such a
// destination reads back as IPIP (and Sync updates it every time). A
// destination the kernel refuses as invalid or unsupported because of its
// tunnel type or mixed family is ErrUnsupported, naming the field. The
// remote-checksum flag (ipvsadm --tun-remcsum) is not in the model: a
// destination that has it reads as TunnelChecksum false and keeps the
// flag until it is next updated. Stats lag the traffic by about 2 s (the
// kernel's estimator), ActiveConns and InactiveConns are current;
// connection entries outlive a deleted service or destination, so a
// service created again with the same addresses sees the old connections.
// The kernel does not mark IPVS dumps as interrupted, so a table read
// while another process changes it may be inconsistent (the next Sync
// converges).
//
// Open uses github.com/moby/ipvs to check that this process reaches IPVS
// (ErrStaleFamily otherwise). Its first use in a process runs "modprobe
// -va ip_vs" (output captured); without a modprobe binary in PATH it logs
// one warning through logrus's standard logger, which vigil leaves alone.
type Kernel struct {
	mu sync.Mutex // serializes use of batch (one reply stream)
	// h is moby/ipvs's handle; only Open's probe uses it (Close closes it).
	h      *mobyipvs.Handle
	batch  *batchSocket
	where  string // "current namespace" or the Netns path, for errors
	log    *slog.Logger
	closed bool
}

// Open checks that the kernel has IPVS and opens its table in cfg.Netns.
// It returns an error wrapping ErrNoIPVS when the IPVS generic-netlink
// family is not registered (ip_vs not loaded), ErrStaleFamily when this
// process cannot reach it, and an error wrapping syscall.EPERM without
// CAP_NET_ADMIN.
func Open(cfg KernelConfig) (*Kernel, error) {
	where := "current namespace"
	if cfg.Netns != "" {
		where = "namespace " + cfg.Netns
	}
	log := logx.OrDiscard(cfg.Logger)
	id, err := ipvsFamilyID(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("ipvs: open in %s: %w", where, err)
	}
	// moby/ipvs resolves the family once per process: only now that it
	// is registered.
	h, err := mobyipvs.New(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("ipvs: open in %s: %w", where, err)
	}
	if err := probe(h); err != nil {
		h.Close()
		return nil, fmt.Errorf("ipvs: open in %s: %w", where, err)
	}
	bs, err := openBatchSocket(cfg.Netns, id)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("ipvs: open in %s: batch socket: %w", where, err)
	}
	log.Debug("ipvs: kernel backend open", "netns", cfg.Netns, "family", id, "batch", bs.chunk)
	return &Kernel{h: h, batch: bs, where: where, log: log}, nil
}

// ipvsFamilyID asks the kernel (from the namespace at path, or the
// current one) for the IPVS generic-netlink family.
func ipvsFamilyID(path string) (uint16, error) {
	var (
		nh  *vnl.Handle
		err error
	)
	if path == "" {
		nh, err = vnl.NewHandle(unix.NETLINK_GENERIC)
	} else {
		ns, nerr := netns.GetFromPath(path)
		if nerr != nil {
			return 0, fmt.Errorf("network namespace %s: %w", path, nerr)
		}
		defer ns.Close()
		nh, err = vnl.NewHandleAt(ns, unix.NETLINK_GENERIC)
	}
	if err != nil {
		return 0, fmt.Errorf("generic netlink socket: %w", err)
	}
	defer nh.Close()
	f, err := nh.GenlFamilyGet("IPVS")
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, fmt.Errorf("generic netlink family IPVS not registered: %w", ErrNoIPVS)
		}
		return 0, fmt.Errorf("look up generic netlink family IPVS: %w", err)
	}
	if f.ID == 0 {
		return 0, fmt.Errorf("generic netlink family IPVS has id 0: %w", ErrNoIPVS)
	}
	return f.ID, nil
}

// probe checks that h reaches the IPVS family: a lookup of a service that
// is not there must come back from IPVS as ESRCH (or find it). moby/ipvs
// with an unresolved family sends to family 0, which the kernel merely
// acknowledges (no reply, no error); a family id left over from an
// unloaded module gets ENOENT.
func probe(h *mobyipvs.Handle) error {
	_, err := h.GetService(&mobyipvs.Service{
		AddressFamily: unix.AF_INET,
		Protocol:      unix.IPPROTO_TCP,
		Address:       net.IPv4zero.To4(),
	})
	var errno syscall.Errno
	switch {
	case err == nil, errors.Is(err, unix.ESRCH):
		return nil
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("IPVS needs CAP_NET_ADMIN: %w", err)
	case errors.As(err, &errno):
		return fmt.Errorf("%w (probe: %w)", ErrStaleFamily, err)
	default:
		return fmt.Errorf("%w (probe: %v)", ErrStaleFamily, err)
	}
}

// Close closes the netlink socket. The table is left as it is.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		k.closed = true
		k.h.Close()
		k.batch.close()
		k.log.Debug("ipvs: kernel backend closed", "where", k.where)
	}
	return nil
}

// do runs f with k's netlink socket, after checking ctx and that k is
// open; what names the operation for errors ("list services in current
// namespace").
func (k *Kernel) do(ctx context.Context, what string, f func(b *batchSocket) error) error {
	return opErr(what, k.use(ctx, f))
}

// use is do without naming the operation in the error.
func (k *Kernel) use(ctx context.Context, f func(b *batchSocket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	return f(k.batch)
}

// opErr says what failed: "ipvs: create service tcp 192.0.2.10:80: <err>";
// nil stays nil.
func opErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ipvs: %s: %w", what, err)
}

// Services lists the services of the table with their counters (one
// IPVS_CMD_GET_SERVICE dump).
func (k *Kernel) Services(ctx context.Context) ([]ServiceState, error) {
	var out []ServiceState
	err := k.do(ctx, "list services in "+k.where, func(b *batchSocket) error {
		var err error
		out, err = b.services()
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Destinations lists the destinations of svc with their tunnel settings
// and counters (one IPVS_CMD_GET_DEST dump); ErrNotFound if svc is not in
// the table.
func (k *Kernel) Destinations(ctx context.Context, svc ServiceKey) ([]DestinationState, error) {
	var out []DestinationState
	err := k.use(ctx, func(b *batchSocket) error {
		var err error
		out, err = b.destinations(svc)
		return err
	})
	if err != nil {
		// Named only now: a Sync lists every service's destinations.
		return nil, opErr("list destinations of "+svc.String(), err)
	}
	return out, nil
}

// CreateService adds svc; ErrExists if it is there already, an error
// wrapping ErrUnsupported if its scheduler's module is not available.
func (k *Kernel) CreateService(ctx context.Context, svc Service) error {
	return k.write(ctx, Change{Op: OpCreateService, Service: svc})
}

// UpdateService changes the settings of svc; ErrNotFound if it is not
// in the table.
func (k *Kernel) UpdateService(ctx context.Context, svc Service) error {
	return k.write(ctx, Change{Op: OpUpdateService, Service: svc})
}

// DeleteService removes svc and its destinations; ErrNotFound if it is
// not in the table.
func (k *Kernel) DeleteService(ctx context.Context, svc ServiceKey) error {
	return k.write(ctx, Change{Op: OpDeleteService, Service: Service{ServiceKey: svc}})
}

// CreateDestination adds d to svc; ErrExists if it is there already,
// ErrNotFound if svc is not in the table.
func (k *Kernel) CreateDestination(ctx context.Context, svc ServiceKey, d Destination) error {
	return k.write(ctx, Change{Op: OpCreateDestination, Service: Service{ServiceKey: svc}, Dest: d})
}

// UpdateDestination changes d's settings in svc; ErrNotFound if svc or
// d is not in the table.
func (k *Kernel) UpdateDestination(ctx context.Context, svc ServiceKey, d Destination) error {
	return k.write(ctx, Change{Op: OpUpdateDestination, Service: Service{ServiceKey: svc}, Dest: d})
}

// DeleteDestination removes d from svc; ErrNotFound if svc or d is not
// in the table.
func (k *Kernel) DeleteDestination(ctx context.Context, svc ServiceKey, d DestinationKey) error {
	return k.write(ctx, Change{Op: OpDeleteDestination, Service: Service{ServiceKey: svc}, Dest: Destination{DestinationKey: d}})
}

// write applies one change: a batch of one on k's netlink socket, so
// single writes and Apply send the same attributes.
func (k *Kernel) write(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return opErr(c.String(), err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return opErr(c.String(), ErrClosed)
	}
	var errs [1]error
	k.batch.send([]Change{c}, errs[:])
	return errs[0]
}

// kernelErr maps an errno from IPVS to the package's sentinels, keeping
// the errno in the chain. IPVS answers ESRCH for a missing service and
// ENOENT for a missing destination; when a service is created or changed
// (svcSet), ENOENT means its scheduler module is missing.
func kernelErr(err error, svcSet bool) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, unix.ENOENT) && svcSet:
		return fmt.Errorf("scheduler module not available: %w (%w)", err, ErrUnsupported)
	case errors.Is(err, unix.ESRCH), errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w (%w)", err, ErrNotFound)
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w (%w)", err, ErrExists)
	}
	return err
}

// changeErr maps the errno the kernel answered to change c: as kernelErr
// does, except that a destination the kernel refuses as invalid or
// unsupported (EINVAL, EOPNOTSUPP, EAFNOSUPPORT) when it uses what older
// or differently built kernels lack (a GUE or GRE tunnel, a tunnel
// checksum, a real server of the other address family) is ErrUnsupported,
// naming that field.
func changeErr(c Change, errno syscall.Errno) error {
	if (c.Op == OpCreateDestination || c.Op == OpUpdateDestination) &&
		(errno == unix.EINVAL || errno == unix.EOPNOTSUPP || errno == unix.EAFNOSUPPORT) {
		d := c.Dest
		switch {
		case d.Addr.Is6() != c.Service.Is6():
			return fmt.Errorf("the kernel refused Addr: an %s real server behind an %s service (mixed families, tunnel %v): %w (%w)",
				family(d.Addr.Is6()), family(c.Service.Is6()), d.TunnelType, errno, ErrUnsupported)
		case d.TunnelType != IPIP || d.TunnelChecksum:
			return fmt.Errorf("the kernel refused TunnelType %v (port %d, checksum %t): %w (%w)",
				d.TunnelType, d.TunnelPort, d.TunnelChecksum, errno, ErrUnsupported)
		}
	}
	return kernelErr(errno, setsService(c.Op))
}
