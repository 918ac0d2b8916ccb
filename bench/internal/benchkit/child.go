package benchkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// Say writes m to w as one line of JSON: how a bench's child process
// reports to the bench (Proc's output lines).
func Say(w io.Writer, m any) {
	b, _ := json.Marshal(m)
	_, _ = w.Write(append(b, '\n'))
}

// ChildSignals returns a child's channels of SIGUSR1 (report now) and of
// SIGTERM/SIGINT (stop).
func ChildSignals() (usr1, term chan os.Signal) {
	usr1, term = make(chan os.Signal, 4), make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	return usr1, term
}

// AcceptAndClose listens on 0.0.0.0:base+i (TCP, IPv4) for each of n
// ports, and accepts and closes every connection until the listeners
// are closed with the process; accepts counts them. It is the real
// servers' side of a checking benchmark: a connect succeeds, nothing is
// served.
func AcceptAndClose(base uint16, n int) (accepts *atomic.Uint64, err error) {
	return AcceptAndServe(base, n, nil)
}

// AcceptAndServe is AcceptAndClose that hands each connection to serve
// (when not nil) before closing it, in the port's accept loop: one
// connection at a time per port.
func AcceptAndServe(base uint16, n int, serve func(net.Conn)) (accepts *atomic.Uint64, err error) {
	accepts = new(atomic.Uint64)
	for i := range n {
		ln, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", base+uint16(i)))
		if err != nil {
			return nil, err
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue // EMFILE and the like: the checker sees a failure
				}
				if serve != nil {
					serve(conn)
				}
				conn.Close()
				accepts.Add(1)
			}
		}()
	}
	return accepts, nil
}
