package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want FailureClass
	}{
		{nil, ClassOther},
		{errors.New("x"), ClassOther},
		{fmt.Errorf("tcp: %w", context.DeadlineExceeded), ClassTimeout},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, ClassTimeout},
		{fmt.Errorf("udp: %w", ErrNoReply), ClassTimeout},
		{&net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, ClassRefused},
		{&net.OpError{Op: "read", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}, ClassReset},
		{fmt.Errorf("write: %w", syscall.EPIPE), ClassReset},
		{&net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}}, ClassUnreachable},
		{fmt.Errorf("x: %w", syscall.ENETUNREACH), ClassUnreachable},
		{fmt.Errorf("http: status 503: %w", ErrUnexpected), ClassUnexpected},
		{&FieldError{Object: "tcp", Field: "Addr", Reason: "empty"}, ClassInvalid},
	} {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestClassifyRefusedDial: a real refused connection on loopback is
// "refused".
func TestClassifyRefusedDial(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Skip("the closed port was taken again")
	}
	if got := Classify(err); got != ClassRefused {
		t.Errorf("Classify(%v) = %v, want refused", err, got)
	}
}

func TestClassifyAllocates(t *testing.T) {
	err := &net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}}
	if n := testing.AllocsPerRun(100, func() { Classify(err) }); n != 0 {
		t.Errorf("Classify allocates %v times", n)
	}
}
