package process

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	goleak.VerifyTestMain(m)
}

// marshal builds the datagram the kernel sends for ev: a netlink header,
// a cn_msg and a proc_event of the kernel's size (40 bytes).
func marshal(ev event) []byte {
	ne := binary.NativeEndian
	const evLen = 40
	b := make([]byte, nlmsgHdrLen+cnMsgLen+evLen)
	ne.PutUint32(b[0:4], uint32(len(b)))
	ne.PutUint16(b[4:6], nlmsgDone)
	c := b[nlmsgHdrLen:]
	ne.PutUint32(c[0:4], cnIdxProc)
	ne.PutUint32(c[4:8], cnValProc)
	ne.PutUint32(c[8:12], ev.seq)
	ne.PutUint32(c[12:16], ev.ack)
	ne.PutUint16(c[16:18], evLen)
	e := c[cnMsgLen:]
	ne.PutUint32(e[0:4], uint32(ev.kind))
	ne.PutUint32(e[4:8], ev.cpu)
	d := e[evHdrLen:]
	put := func(off int, v int32) { ne.PutUint32(d[off:off+4], uint32(v)) }
	switch ev.kind {
	case evAck:
		ne.PutUint32(d[0:4], ev.errno)
	case evFork:
		put(0, ev.ppid)
		put(4, ev.ptgid)
		put(8, ev.pid)
		put(12, ev.tgid)
	case evExec, evExit:
		put(0, ev.pid)
		put(4, ev.tgid)
	case evComm:
		put(0, ev.pid)
		put(4, ev.tgid)
		copy(d[8:8+commLen-1], ev.comm)
	}
	return b
}

// fakeProc is a procfs tree in a temporary directory.
type fakeProc struct {
	t    testing.TB
	root string
}

func newFakeProc(t testing.TB) *fakeProc {
	root := t.TempDir()
	// Entries that are not processes.
	for _, d := range []string{"sys", "self", "0", "-1", "12a"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "77"), []byte("a file, not a process"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &fakeProc{t: t, root: root}
}

// add writes process pid with its comm, state letter and command line.
func (p *fakeProc) add(pid int32, comm string, state byte, argv ...string) {
	p.t.Helper()
	dir := filepath.Join(p.root, strconv.Itoa(int(pid)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	stat := strconv.Itoa(int(pid)) + " (" + comm + ") " + string(state) + " 1 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 100 1000 100\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		p.t.Fatal(err)
	}
	var cmd string
	if len(argv) > 0 {
		cmd = strings.Join(argv, "\x00") + "\x00"
	}
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmd), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *fakeProc) remove(pid int32) {
	p.t.Helper()
	if err := os.RemoveAll(filepath.Join(p.root, strconv.Itoa(int(pid)))); err != nil {
		p.t.Fatal(err)
	}
}
