//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/nstest"
)

// canNetns reports whether the real-namespace mode can run here.
func canNetns() bool {
	_, err := nstest.LookTool("ip")
	return os.Geteuid() == 0 && err == nil
}

// childEnv, when set, makes the program one service of the namespace
// mode (a childConfig in JSON) rather than the demonstration.
const childEnv = "VIGIL_EMBEDDED_NODE"

// childConfig is what a service process of the namespace mode runs.
type childConfig struct {
	Node      int // index in nodes
	Interface string
	Options   options
}

// childMain is one service, started by runNetns in its node's namespace
// (`ip netns exec`): it serves HTTP on every address (its own and the
// VIP), runs its Supervisor on the namespace's kernel with a real HTTP
// check of its own /healthz and a TCP check of the dependency, writes the
// Supervisor's events to stdout as JSON lines (its notify callback), reads
// "healthy" and "unhealthy" from stdin, and stops gracefully at the end of
// stdin.
func childMain(cfgJSON string) int {
	var cc childConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cc); err != nil || cc.Node < 0 || cc.Node >= len(nodes) {
		fmt.Fprintf(os.Stderr, "embedded: %s=%q: bad configuration (%v)\n", childEnv, cfgJSON, err)
		return 2
	}
	nd := nodes[cc.Node]
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", nd.name)
	if err := serveNode(cc, log); err != nil {
		log.Error("embedded: service failed", "err", err)
		return 1
	}
	return 0
}

func serveNode(cc childConfig, log *slog.Logger) error {
	nd := nodes[cc.Node]
	svc := newService(nd.name)
	health := &check.HTTP{Addr: netip.AddrPortFrom(nd.addr, httpPort), Path: "/healthz"}
	dep := &check.TCP{Addr: dependency}
	cfg := config(nd.prio, cc.Interface, cc.Options, health, dep)
	cfg.Logger = log
	p, err := vigil.OpenLinux(vigil.LinuxConfig{Logger: log})
	if err != nil {
		return err
	}
	sup, err := vigil.New(p, cfg)
	if err != nil {
		return err
	}
	svc.sup = sup
	// Listen before Run: the health tracker's first round is at once.
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", httpPort))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: svc, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	sub := sup.Subscribe(256)
	enc := json.NewEncoder(os.Stdout)
	wg.Go(func() {
		notify(sub, func(e vigil.Event) {
			if err := enc.Encode(e); err != nil {
				log.Error("embedded: writing an event", "err", err)
			}
		})
	})
	// A terminal's ^C reaches the whole process group: leave it to the
	// demonstration, which ends stdin. SIGTERM stops gracefully too.
	signal.Ignore(os.Interrupt)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	go func() { // ends with stdin, which ends the service
		defer cancel()
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			switch in.Text() {
			case "healthy":
				svc.unhealthy.Store(false)
			case "unhealthy":
				svc.unhealthy.Store(true)
			default:
				log.Error("embedded: unknown command", "command", in.Text())
			}
		}
	}()
	err = sup.Run(ctx)
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	err = errors.Join(err, srv.Shutdown(sctx))
	wg.Wait()
	return err
}

// nsNode is a service process in a namespace.
type nsNode struct {
	ns    *nstest.Host
	cmd   *exec.Cmd
	stdin io.WriteCloser
	read  chan struct{} // closed when its stdout ended
	done  bool
}

// nsCluster runs each service as a process in its own namespace.
type nsCluster struct {
	nodes   []*nsNode
	outside *nstest.Host // where the dependency and the client are
}

func (c *nsCluster) setHealthy(n int, ok bool) error {
	cmd := "unhealthy\n"
	if ok {
		cmd = "healthy\n"
	}
	_, err := io.WriteString(c.nodes[n].stdin, cmd)
	return err
}

// setDependency makes the dependency unreachable from node n with a
// route of type unreachable, or removes that route.
func (c *nsCluster) setDependency(n int, ok bool) error {
	op := "add"
	if ok {
		op = "del"
	}
	_, err := nstest.Run("ip", "-n", c.nodes[n].ns.Name, "route", op, "unreachable", dependency.Addr().String()+"/32")
	return err
}

func (c *nsCluster) hasVIP(n int) bool {
	ok, _ := c.nodes[n].ns.HasAddr(vip.Addr())
	return ok
}

// get GETs url from the client's namespace.
func (c *nsCluster) get(url string) (string, error) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
			err = c.outside.Do(func() error {
				var d net.Dialer
				conn, err = d.DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

func (c *nsCluster) state(n int) (string, error) {
	return c.get(fmt.Sprintf("http://%v/state", netip.AddrPortFrom(nodes[n].addr, httpPort)))
}

func (c *nsCluster) client() (string, error) {
	return c.get(fmt.Sprintf("http://%v/healthz", netip.AddrPortFrom(vip.Addr(), httpPort)))
}

// stop ends node n's stdin, so that it stops gracefully, and waits for it
// for up to 10 s; then it kills it (by its PID).
func (c *nsCluster) stop(n int) error {
	m := c.nodes[n]
	if m.done {
		return nil
	}
	m.done = true
	m.stdin.Close()
	select {
	case <-m.read:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.read
		m.cmd.Wait()
		return fmt.Errorf("%s did not stop within 10s: killed", nodes[n].name)
	}
	if err := m.cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w", nodes[n].name, err)
	}
	return nil
}

// runNetns is the demonstration with each service a process in its own
// network namespace (hosts 1 and 2 of a bridge), the dependency and a
// client in a third.
func runNetns(ctx context.Context, w io.Writer, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	ip, err := nstest.LookTool("ip")
	if err != nil {
		return fmt.Errorf("ip(8) from iproute2: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	seg, err := nstest.Build(3)
	if seg != nil {
		defer seg.Close()
	}
	if err != nil {
		return err
	}
	c := &nsCluster{outside: seg.Hosts[2]}
	// The dependency: a TCP listener in the third namespace.
	var db net.Listener
	if err := c.outside.Do(func() (err error) {
		db, err = net.Listen("tcp", dependency.String())
		return err
	}); err != nil {
		return err
	}
	defer db.Close()
	go func() {
		for {
			conn, err := db.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()

	d := newDemo(w, o)
	d.c = c
	fmt.Fprintf(w, "vigil embedded: HTTP services A (priority %d) and B (priority %d) embedding a vigil.Supervisor, VRID %d, VIP %v, adverts every %v;\n",
		nodes[0].prio, nodes[1].prio, vrid, vip, o.Advert)
	fmt.Fprintf(w, "trackers every %v (fall %d, rise %d): healthz (weight 0) GETs the service's /healthz, dependency (weight %d) connects to %v;\n",
		o.Check, o.Fall, o.Rise, dependencyWeight, dependency)
	fmt.Fprintf(w, "each service a process in namespace %s-h{1,2}, the dependency and a client in %s\n\n",
		strings.TrimSuffix(seg.Switch, "-sw"), c.outside.Name)

	var wg sync.WaitGroup
	defer func() {
		for i := range c.nodes {
			c.stop(i)
		}
		wg.Wait()
	}()
	for i := range nodes {
		h := seg.Hosts[i]
		cfg, err := json.Marshal(childConfig{Node: i, Interface: h.Link, Options: o})
		if err != nil {
			return err
		}
		cmd := exec.Command(ip, "netns", "exec", h.Name, exe)
		cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		m := &nsNode{ns: h, cmd: cmd, stdin: stdin, read: make(chan struct{})}
		c.nodes = append(c.nodes, m)
		wg.Go(func() {
			defer close(m.read)
			in := bufio.NewScanner(stdout)
			for in.Scan() {
				var e vigil.Event
				if err := json.Unmarshal(in.Bytes(), &e); err != nil {
					d.printf("%s: %q: %v\n", nodes[i].name, in.Text(), err)
					continue
				}
				d.event(i, e)
			}
		})
	}
	return d.story(ctx)
}
