package process

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// procFS reads processes from a procfs tree: the real /proc, or a fake
// one in tests.
type procFS struct {
	root string
	// cmdline is how many bytes of /proc/PID/cmdline to read: the most
	// any spec needs, 0 if no spec matches on the command line (then it
	// is never read: reading it touches the process's memory, which may
	// have to be swapped in).
	cmdline int
	buf     []byte
}

// read returns what the specs need of process pid. An error means the
// process cannot be read: most often it has exited (fs.ErrNotExist, or
// ESRCH from a file of a process that exits while it is read).
func (p *procFS) read(pid int32) (procInfo, error) {
	dir := filepath.Join(p.root, strconv.FormatInt(int64(pid), 10))
	var info procInfo
	b, err := p.readFile(filepath.Join(dir, "stat"), 512)
	if err != nil {
		return info, err
	}
	comm, state, ok := parseStat(b)
	if !ok {
		return info, errors.New("unparsable stat")
	}
	info.comm, info.state = comm, state
	if p.cmdline > 0 && !info.gone() {
		b, err := p.readFile(filepath.Join(dir, "cmdline"), p.cmdline)
		if err != nil {
			return info, err
		}
		info.cmdline = append([]byte(nil), b...)
	}
	return info, nil
}

// readFile reads at most n bytes of the file at path into p.buf, which
// the result aliases.
func (p *procFS) readFile(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if cap(p.buf) < n {
		p.buf = make([]byte, n)
	}
	b := p.buf[:n]
	m, err := io.ReadFull(f, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return b[:m], err
}

// pids lists the processes in the tree: its directories named by a
// positive number.
func (p *procFS) pids() ([]int32, error) {
	ents, err := os.ReadDir(p.root)
	if err != nil {
		return nil, err
	}
	pids := make([]int32, 0, len(ents))
	for _, e := range ents {
		if e.Type()&fs.ModeType != fs.ModeDir {
			continue
		}
		n, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || n <= 0 {
			continue
		}
		pids = append(pids, int32(n))
	}
	return pids, nil
}

// scan reads every process of the tree; processes that cannot be read
// (they exited meanwhile) are left out.
func (p *procFS) scan() (map[int32]procInfo, error) {
	pids, err := p.pids()
	if err != nil {
		return nil, err
	}
	out := make(map[int32]procInfo, len(pids))
	for _, pid := range pids {
		if info, err := p.read(pid); err == nil {
			out[pid] = info
		}
	}
	return out, nil
}
