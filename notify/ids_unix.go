//go:build unix

package notify

import (
	"io/fs"
	"syscall"
)

// owner is the uid and gid owning the file fi describes.
func owner(fi fs.FileInfo) (uid, gid uint32) {
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}
