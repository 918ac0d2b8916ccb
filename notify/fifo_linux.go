package notify

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// open creates (if need be), checks and opens the FIFO; see OpenFIFO.
func (f *FIFO) open() error {
	path := f.cfg.Path
	euid, egid := os.Geteuid(), os.Getegid()
	err := unix.Mkfifo(path, uint32(f.cfg.Mode))
	switch {
	case err == nil:
		f.created = true
		// Mode exactly, whatever the umask.
		if err := unix.Chmod(path, uint32(f.cfg.Mode)); err != nil {
			f.remove()
			return fmt.Errorf("notify: fifo %s: chmod: %w", path, err)
		}
		if u := f.cfg.User; u != nil && (int(u.UID) != euid || int(u.GID) != egid) {
			uid, gid := -1, -1
			if int(u.UID) != euid {
				uid = int(u.UID)
			}
			if int(u.GID) != egid {
				gid = int(u.GID)
			}
			if err := unix.Lchown(path, uid, gid); err != nil {
				f.log.Warn("notify: failed to set uid:gid for fifo", "fifo", path, "uid", u.UID, "gid", u.GID, "err", err)
			}
		}
	case errors.Is(err, unix.EEXIST):
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return fmt.Errorf("notify: fifo %s: %w", path, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return fmt.Errorf("notify: fifo %s: exists and is not a fifo", path)
		}
	default:
		return fmt.Errorf("notify: fifo %s: create: %w", path, err)
	}

	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		f.remove()
		return fmt.Errorf("notify: fifo %s: open: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		f.remove()
		return fmt.Errorf("notify: fifo %s: %w", path, err)
	}
	owned := int(st.Uid) == euid || (f.cfg.User != nil && st.Uid == f.cfg.User.UID)
	if st.Mode&unix.S_IFMT != unix.S_IFIFO || !owned {
		unix.Close(fd)
		f.remove()
		return fmt.Errorf("notify: fifo %s: not a fifo owned by uid %d or the fifo's user (owner %d, mode %#o)", path, euid, st.Uid, st.Mode)
	}
	f.fd = fd
	return nil
}

// remove unlinks the FIFO if open created it.
func (f *FIFO) remove() error {
	if !f.created {
		return nil
	}
	f.created = false
	if err := unix.Unlink(f.cfg.Path); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("notify: fifo %s: remove: %w", f.cfg.Path, err)
	}
	return nil
}

// write writes line in one non-blocking write(2).
func (f *FIFO) write(line string) error {
	for {
		n, err := unix.Write(f.fd, []byte(line))
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return ErrFull
		case err != nil:
			return fmt.Errorf("write: %w", err)
		case n != len(line):
			return fmt.Errorf("write: %d of %d bytes written", n, len(line))
		}
		return nil
	}
}

// close removes the FIFO if it was created, then closes it.
func (f *FIFO) close() error {
	err := f.remove()
	if cerr := unix.Close(f.fd); cerr != nil && err == nil {
		err = fmt.Errorf("notify: fifo %s: close: %w", f.cfg.Path, cerr)
	}
	f.fd = -1
	return err
}
