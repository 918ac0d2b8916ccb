package vigildcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp/bgpstate"
)

// The control socket speaks JSON lines: a client sends one Request and
// reads one Response, then the server closes the connection.

// Request is a control-socket request.
type Request struct {
	// Command is "status", "reload" or "dump".
	Command string `json:"command"`
}

// Response is the answer to a Request; Error is set when it failed.
type Response struct {
	Error string `json:"error,omitempty"`
	// Now is the daemon's clock when it answered (status: since when).
	Now time.Time `json:"now,omitzero"`
	// State answers status; BGP with it, the bgp block's speaker, when
	// one runs.
	State *vigil.State    `json:"state,omitempty"`
	BGP   *bgpstate.State `json:"bgp,omitempty"`
	// Reload answers reload.
	Reload *reloadResult `json:"reload,omitempty"`
	// Dump answers dump: keepalived.data's text.
	Dump string `json:"dump,omitempty"`
	// Metrics answers metrics (a child's, for its parent's /metrics):
	// the Supervisor's collector in Prometheus' text format.
	Metrics string `json:"metrics,omitempty"`
}

const (
	maxRequest     = 4 << 10
	maxResponse    = 64 << 20
	controlTimeout = 30 * time.Second // a reload of a large configuration included
)

// listenControl listens on the unix socket path, mode 0600, in a
// directory it creates 0700. A socket another process answers on is not
// taken over; a stale one is removed.
func listenControl(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another daemon answers on it", path)
		}
		if err := removeIfExists(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// serveControl answers the control socket's requests with handle until
// the returned func is called; that func closes the listener and the
// connections and waits for their goroutines.
func serveControl(ln *net.UnixListener, log *slog.Logger, handle func(context.Context, Request) Response) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				if ctx.Err() == nil {
					log.Error("control socket", "err", err)
				}
				return
			}
			mu.Lock()
			if ctx.Err() != nil {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				serveConn(ctx, c, log, handle)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			})
		}
	})
	return func() {
		cancel()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

// serveConn answers one request on c with handle.
func serveConn(ctx context.Context, c *net.UnixConn, log *slog.Logger, handle func(context.Context, Request) Response) {
	c.SetDeadline(time.Now().Add(controlTimeout))
	enc := json.NewEncoder(c)
	uid, err := peerUID(c)
	if err != nil || (uid != 0 && uid != os.Geteuid()) {
		log.Warn("control socket: refused a client", "uid", uid, "err", err)
		enc.Encode(Response{Error: "permission denied"})
		return
	}
	line, err := bufio.NewReaderSize(c, maxRequest).ReadSlice('\n')
	if err != nil {
		msg := "reading the request: " + err.Error()
		if errors.Is(err, bufio.ErrBufferFull) {
			msg = "request too long"
		}
		enc.Encode(Response{Error: msg})
		return
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		enc.Encode(Response{Error: "bad request: " + err.Error()})
		return
	}
	enc.Encode(handle(ctx, req))
}

// handle answers a request.
func (d *daemon) handle(ctx context.Context, req Request) Response {
	switch req.Command {
	case "status":
		st := d.sup.State()
		return Response{Now: d.env.Now(), State: &st, BGP: d.bgpStatus()}
	case "reload":
		res, err := d.requestReload(ctx)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Reload: &res}
	case "dump":
		st := d.sup.State()
		cfg := d.shownConfig()
		var b bytes.Buffer
		writeData(&b, &cfg, &st, d.env.Now())
		return Response{Dump: b.String()}
	case "metrics":
		text, err := gatherText(d.sup.Collector(), bgpCollector{d})
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Metrics: text}
	}
	return Response{Error: fmt.Sprintf("unknown command %q (status, reload, dump)", req.Command)}
}

// call sends req to the control socket at path and returns the
// response.
func call(path string, req Request) (Response, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return Response{}, fmt.Errorf("is vigild running? %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout + 5*time.Second))
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Response{}, err
	}
	var resp Response
	dec := json.NewDecoder(bufio.NewReader(&limitReader{c, maxResponse}))
	if err := dec.Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("reading the answer: %w", err)
	}
	return resp, nil
}

// limitReader fails past n bytes.
type limitReader struct {
	c net.Conn
	n int
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("answer too long")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}
