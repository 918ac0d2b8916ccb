package check

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSMTP(t *testing.T) {
	noLeaks(t)
	helos := make(chan string, 16)
	serve := func(banner, helo string) func(net.Conn) {
		return func(c net.Conn) {
			r := bufio.NewReader(c)
			c.Write([]byte(banner))
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				switch {
				case strings.HasPrefix(line, "HELO "):
					helos <- strings.TrimSpace(line)
					c.Write([]byte(helo))
				case line == "QUIT\r\n":
					c.Write([]byte("221 bye\r\n"))
					return
				default:
					c.Write([]byte("500 what?\r\n"))
				}
			}
		}
	}
	good := tcpServer(t, serve("220 mail.test ESMTP\r\n", "250 hello\r\n"))
	multi := tcpServer(t, serve("220-mail.test ESMTP\r\n220-more text\r\n220 ready\r\n", "250-hello\r\n250 PIPELINING\r\n"))
	busy := tcpServer(t, serve("554 go away\r\n", "250 hello\r\n"))
	rude := tcpServer(t, serve("220 mail.test ESMTP\r\n", "550 not you\r\n"))
	hangup := tcpServer(t, func(c net.Conn) {})
	tests := []struct {
		name string
		c    *SMTP
		want error
		helo string
	}{
		{"ok", &SMTP{Addr: good}, nil, "HELO localhost"},
		{"helo name", &SMTP{Addr: good, HELO: "checker.test"}, nil, "HELO checker.test"},
		{"multi-line replies", &SMTP{Addr: multi}, nil, "HELO localhost"},
		{"busy", &SMTP{Addr: busy}, ErrUnexpected, ""},
		{"HELO refused", &SMTP{Addr: rude}, ErrUnexpected, "HELO localhost"},
		{"hang up", &SMTP{Addr: hangup}, ErrUnexpected, ""},
		{"closed port", &SMTP{Addr: closedTCPPort(t)}, errRefused, ""},
		{"bad HELO name", &SMTP{Addr: good, HELO: "a\r\nRCPT TO:<x>"}, ErrInvalid, ""},
		{"no address", &SMTP{}, ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.c.Check(testCtx(t, 5*time.Second)), tt.want)
			if tt.helo != "" {
				if got := <-helos; got != tt.helo {
					t.Errorf("server got %q, want %q", got, tt.helo)
				}
			}
		})
	}
}

func TestSMTPContext(t *testing.T) {
	noLeaks(t)
	accepted := make(chan struct{}, 1)
	silent := tcpServer(t, func(c net.Conn) {
		accepted <- struct{}{}
		c.Read(make([]byte, 1))
	})
	c := &SMTP{Addr: silent}
	if err := c.Check(testCtx(t, 100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent server: %v, want DeadlineExceeded", err)
	}
	<-accepted
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-accepted; cancel() }()
	if err := c.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want Canceled", err)
	}
}
