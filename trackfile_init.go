package vigil

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// FileInit is keepalived's init_file of a track_file: Value, followed by
// a newline, is written to the file when Supervisor.Run starts (after
// Global.StartupScript), if the file does not exist, or always with
// Overwrite; a file that exists and is not a regular file is never
// written (an error is logged). A reload writes nothing, as keepalived's.
type FileInit struct {
	Value     int
	Overwrite bool
}

// initTrackFiles writes the files of the File trackers with an Init.
func (s *Supervisor) initTrackFiles() {
	for _, t := range s.cfg.Trackers {
		if t.File == nil || t.File.Init == nil {
			continue
		}
		if err := initFile(t.File.Path, *t.File.Init); err != nil {
			s.log.Error("vigil: track file not initialised", "tracker", t.Name, "err", err)
		}
	}
}

// initFile writes in.Value to path as FileInit says.
func initFile(path string, in FileInit) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && !in.Overwrite:
		return nil
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	}
	return os.WriteFile(path, []byte(strconv.Itoa(in.Value)+"\n"), 0o644)
}
