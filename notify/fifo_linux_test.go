package notify

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// reader reads the FIFO at path line by line into a channel, closed at
// end of file.
func reader(t *testing.T, path string) <-chan string {
	t.Helper()
	f, err := os.Open(path) // never waits: the FIFO is open for writing
	if err != nil {
		t.Fatal(err)
	}
	c := make(chan string, 100000)
	go func() {
		defer close(c)
		defer f.Close()
		br := bufio.NewReader(f)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				c <- line
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// next returns the next line of c, failing t after 10s.
func next(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-c:
		if !ok {
			t.Fatal("reader ended")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line in 10s")
	}
	return ""
}

func openFIFO(t *testing.T, cfg FIFOConfig) *FIFO {
	t.Helper()
	f, err := OpenFIFO(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFIFOLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	old := syscall.Umask(0o777) // Mode must not depend on it
	f, err := OpenFIFO(FIFOConfig{Path: path})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode() != os.ModeNamedPipe|0o600 || !f.Created() {
		t.Fatalf("created %v, %v; Created %v", fi.Mode(), err, f.Created())
	}
	c := reader(t, path)
	vs := Service{Addr: netip.MustParseAddr("192.0.2.10"), Port: 80, Protocol: 6}
	want := []string{
		InstanceLine("VI_1", Master, 100),
		GroupLine("G1", Backup),
		VSLine(vs, true),
		RSLine(netip.MustParseAddrPort("192.0.2.21:80"), vs, false),
	}
	for _, l := range want {
		if err := f.WriteLine(l); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range want {
		if got := next(t, c); got != w {
			t.Errorf("read %q, want %q", got, w)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// The reader sees the end of the file, and the FIFO is gone.
	select {
	case l, ok := <-c:
		if ok {
			t.Errorf("read %q after Close", l)
		}
	case <-time.After(10 * time.Second):
		t.Error("reader still open 10s after Close")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fifo left after Close: %v", err)
	}
	if err := f.WriteLine("x\n"); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if s := f.Stats(); s.Lines != 4 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestFIFOFull: with nobody reading, lines wait in the pipe until it is
// full, then are dropped without waiting; a reader coming later gets the
// ones written, whole.
func TestFIFOFull(t *testing.T) {
	var logs bytes.Buffer
	path := filepath.Join(t.TempDir(), "fifo")
	f := openFIFO(t, FIFOConfig{Path: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	written, dropped := 0, 0
	for i := 0; dropped < 150; i++ {
		err := f.WriteLine(InstanceLine(fmt.Sprintf("VI_%05d", i), Backup, 100))
		switch {
		case err == nil:
			if dropped > 0 {
				t.Fatalf("line %d written after a drop", i)
			}
			written++
		case errors.Is(err, ErrFull):
			dropped++
		default:
			t.Fatal(err)
		}
	}
	s := f.Stats()
	if s.Lines != uint64(written) || s.Dropped != 150 || written < 100 {
		t.Errorf("stats %+v, written %d", s, written)
	}
	if n := strings.Count(logs.String(), "line dropped"); n != 2 { // the 1st and 100th
		t.Errorf("%d drop logs, want 2: %s", n, logs.String())
	}
	c := reader(t, path)
	for i := range written {
		if got, want := next(t, c), InstanceLine(fmt.Sprintf("VI_%05d", i), Backup, 100); got != want {
			t.Fatalf("line %d: %q, want %q", i, got, want)
		}
	}
	if err := f.WriteLine("after\n"); err != nil {
		t.Errorf("write once read: %v", err)
	}
	if got := next(t, c); got != "after\n" {
		t.Errorf("read %q", got)
	}
}

// TestFIFOConcurrentWriters: lines written from several goroutines never
// mix.
func TestFIFOConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	f := openFIFO(t, FIFOConfig{Path: path})
	c := reader(t, path)
	const writers, each = 8, 300
	long := strings.Repeat("x", 1000)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf("%d %d %s\n", w, i, long)
				for errors.Is(f.WriteLine(line), ErrFull) {
					time.Sleep(time.Millisecond) // the reader drains the pipe
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for range writers * each {
		l := next(t, c)
		var w, i int
		var rest string
		if _, err := fmt.Sscanf(l, "%d %d %s\n", &w, &i, &rest); err != nil || rest != long || seen[l] {
			t.Fatalf("mixed or repeated line %.40q...", l)
		}
		seen[l] = true
	}
}

func TestFIFOTooLong(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	f := openFIFO(t, FIFOConfig{Path: path})
	c := reader(t, path)
	if err := f.WriteLine(strings.Repeat("x", PipeBuf) + "\n"); !errors.Is(err, ErrTooLong) {
		t.Errorf("PipeBuf+1 bytes: %v", err)
	}
	max := strings.Repeat("y", PipeBuf-1) + "\n"
	if err := f.WriteLine(max); err != nil {
		t.Errorf("PipeBuf bytes: %v", err)
	}
	if got := next(t, c); got != max {
		t.Errorf("read %d bytes", len(got))
	}
	if s := f.Stats(); s.TooLong != 1 || s.Lines != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestFIFOExisting: an existing FIFO is used as it is and left in place.
func TestFIFOExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o640)
	f := openFIFO(t, FIFOConfig{Path: path, Mode: 0o600})
	if f.Created() {
		t.Error("Created")
	}
	f.Close()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode() != os.ModeNamedPipe|0o640 {
		t.Errorf("after Close: %v, %v", fi, err)
	}
}

// TestFIFORefused: what OpenFIFO will not open.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, []byte("keep"), 0o600)
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(fifo, link)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	for _, tt := range []struct{ path, want string }{
		{regular, "is not a fifo"},
		{link, "is not a fifo"},
		{sub, "is not a fifo"},
		{filepath.Join(dir, "missing", "fifo"), "create: no such file or directory"},
	} {
		_, err := OpenFIFO(FIFOConfig{Path: tt.path})
		if err == nil || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.path, err, tt.want)
		}
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep" {
		t.Errorf("regular file changed: %q", b)
	}
	for _, cfg := range []FIFOConfig{{}, {Path: fifo, Mode: os.ModeNamedPipe | 0o600}, {Path: fifo, Script: &Script{}}} {
		if _, err := OpenFIFO(cfg); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

// TestFIFOOwner: a FIFO created for another user is given to it; an
// existing FIFO must belong to this process's user or the FIFO's (root
// only).
func TestFIFOOwner(t *testing.T) {
	needRoot(t, "giving a FIFO to another user")
	nobody := &User{UID: 65534, GID: 65534}
	dir := t.TempDir()

	created := filepath.Join(dir, "created")
	f := openFIFO(t, FIFOConfig{Path: created, User: nobody})
	fi, err := os.Lstat(created)
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(fi); uid != 65534 || gid != 65534 {
		t.Errorf("created fifo owned by %d:%d", uid, gid)
	}
	f.Close()

	theirs := filepath.Join(dir, "theirs")
	syscall.Mkfifo(theirs, 0o600)
	os.Chown(theirs, 4242, 4242)
	if _, err := OpenFIFO(FIFOConfig{Path: theirs, User: nobody}); err == nil || !strings.Contains(err.Error(), "not a fifo owned by") {
		t.Errorf("fifo of uid 4242: %v", err)
	}
	os.Chown(theirs, 65534, 65534)
	openFIFO(t, FIFOConfig{Path: theirs, User: nobody})
	if _, err := OpenFIFO(FIFOConfig{Path: theirs}); err == nil {
		t.Error("fifo of nobody opened without User")
	}
}

// TestFIFOScript: the FIFO's script reads it, with its path as last
// argument, until Run's context ends.
func TestFIFOScript(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	out := filepath.Join(dir, "out")
	if err := syscall.Mkfifo(out, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Script{Args: []string{writeScript(t, dir, "r.sh", `exec 3> '`+out+`'
echo "$@" >&3
exec cat "$2" >&3`), "first"}, Timeout: time.Millisecond}
	f := openFIFO(t, FIFOConfig{Path: path, Script: s})
	ctx, cancel := context.WithCancel(testCtx(t, time.Minute))
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	c := reader(t, out)
	if got := next(t, c); got != "first "+path+"\n" {
		t.Errorf("script's arguments %q, want first %s", got, path)
	}
	for _, l := range []string{InstanceLine("VI_1", Master, 100), GroupLine("G", Stop)} {
		if err := f.WriteLine(l); err != nil {
			t.Fatal(err)
		}
		if got := next(t, c); got != l {
			t.Errorf("script read %q, want %q", got, l)
		}
	}
	if err := f.Run(ctx); !errors.Is(err, ErrRan) {
		t.Errorf("second Run: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.ScriptExits != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestFIFOScriptExits: a script that ends early is reported, not
// restarted, and Run waits for its context.
func TestFIFOScriptExits(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var logs bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	f := openFIFO(t, FIFOConfig{
		Path:   filepath.Join(dir, "fifo"),
		Script: &Script{Args: []string{writeScript(t, dir, "x.sh", "exit 3")}},
		Logger: slog.New(slog.NewTextHandler(w, nil)),
	})
	ctx, cancel := context.WithCancel(testCtx(t, time.Minute))
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for f.Stats().ScriptExits == 0 {
		if time.Now().After(deadline) {
			t.Fatal("script end not seen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned before its context ended: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "fifo script terminated") || !strings.Contains(logs.String(), "exit status 3") {
		t.Errorf("log %q", logs.String())
	}
	if s := f.Stats(); s.ScriptExits != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestFIFONoScript: Run without a script waits for its context; a script
// that cannot start is Run's error.
func TestFIFONoScript(t *testing.T) {
	dir := t.TempDir()
	f := openFIFO(t, FIFOConfig{Path: filepath.Join(dir, "a")})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.Run(ctx); err != nil {
		t.Error(err)
	}
	f = openFIFO(t, FIFOConfig{Path: filepath.Join(dir, "b"), Script: &Script{Args: []string{"/nonexistent"}}})
	if err := f.Run(testCtx(t, time.Minute)); err == nil || !strings.Contains(err.Error(), "/nonexistent") {
		t.Errorf("Run: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var _ io.Writer = writerFunc(nil)
