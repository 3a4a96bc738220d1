package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wsloop/wsloop/bench/internal/child"
	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// The servers the suite knows. Only wsloop is required (make test); the
// others are the references of HOSTILE.md.
const (
	Wsloop     = "wsloop"
	Gorilla    = "gorilla"
	Websockets = "websockets"
)

// Servers lists the server names in table order.
var Servers = []string{Wsloop, Gorilla, Websockets}

// Target is a running server under test: a process of ours on loopback.
type Target struct {
	Name     string // Wsloop, Gorilla or Websockets
	Addr     string // host:port of the WebSocket listener
	Admin    string // wsloop's -admin address ("" for the references)
	Compress bool   // negotiates permessage-deflate when offered
	// HeadLimit is the largest request head the server takes, when known
	// (0: not known).
	HeadLimit int
	Args      []string

	*child.Process
	out *capped
}

// Log is what the process wrote to stdout and stderr so far (bounded).
func (t *Target) Log() string { return t.out.String() }

// Stop sends SIGTERM and waits up to grace for the exit, then kills it.
func (t *Target) Stop(grace time.Duration) {
	if t == nil || t.Process == nil {
		return
	}
	t.Process.Stop(syscall.SIGTERM, grace)
}

// Binaries are the built server programs.
type Binaries struct {
	Wsloop, Gorilla string
	Python          string // the echo script for /usr/bin/python3
}

// repoRoot finds the core module's root from the working directory: the
// nearest ancestor whose go.mod declares module github.com/wsloop/wsloop.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/wsloop/wsloop\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the wsloop repository")
		}
		dir = parent
	}
}

// Build builds the servers named in which into dir: cmd/wsloop from the
// repository root (no -race: the server is measured, not the suite),
// bench/peers/gorilla from the bench module, and locates the Python
// script.
func Build(dir string, which []string) (Binaries, error) {
	root, err := repoRoot()
	if err != nil {
		return Binaries{}, err
	}
	var b Binaries
	for _, name := range which {
		switch name {
		case Wsloop:
			b.Wsloop = filepath.Join(dir, "wsloop")
			if err := goBuild(root, b.Wsloop, "./cmd/wsloop"); err != nil {
				return b, err
			}
		case Gorilla:
			b.Gorilla = filepath.Join(dir, "gorilla")
			if err := goBuild(filepath.Join(root, "bench"), b.Gorilla, "./peers/gorilla"); err != nil {
				return b, err
			}
		case Websockets:
			b.Python = filepath.Join(root, "bench", "hostile", "testdata", "ws_echo.py")
		default:
			return b, fmt.Errorf("unknown server %q (want %v)", name, Servers)
		}
	}
	return b, nil
}

func goBuild(dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartWsloop runs the wsloop binary with its defaults plus -addr and
// -admin on free loopback ports, and extra flags.
func StartWsloop(bin string, extra ...string) (*Target, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	admin, err := FreePort()
	if err != nil {
		return nil, err
	}
	t := &Target{Name: Wsloop, Addr: fmt.Sprintf("127.0.0.1:%d", port), Admin: fmt.Sprintf("127.0.0.1:%d", admin), HeadLimit: 8 << 10}
	for _, a := range extra {
		t.Compress = t.Compress || a == "-compress"
	}
	t.Args = append([]string{"-addr", t.Addr, "-admin", t.Admin}, extra...)
	return t, t.start(bin, t.Args...)
}

// StartGorilla runs the gorilla echo peer (compression off, read limit
// 16 MiB: its defaults).
func StartGorilla(bin string) (*Target, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	// net/http's default limit: DefaultMaxHeaderBytes (1 MiB) plus the
	// 4 KiB of slack it allows.
	t := &Target{Name: Gorilla, Addr: fmt.Sprintf("127.0.0.1:%d", port), HeadLimit: 1<<20 + 4096}
	t.Args = []string{"-addr", t.Addr}
	return t, t.start(bin, t.Args...)
}

// pythonBin is the interpreter that can import Debian's python3-websockets.
const pythonBin = "/usr/bin/python3"

// StartWebsockets runs testdata/ws_echo.py (Python websockets, its
// defaults but max_size 16 MiB; permessage-deflate on, as by default).
func StartWebsockets(script string) (*Target, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	t := &Target{Name: Websockets, Addr: fmt.Sprintf("127.0.0.1:%d", port), Compress: true}
	t.Args = []string{script, "--port", strconv.Itoa(port)}
	return t, t.start(pythonBin, t.Args...)
}

// Start starts the server named name from b.
func Start(name string, b Binaries) (*Target, error) {
	switch name {
	case Wsloop:
		return StartWsloop(b.Wsloop)
	case Gorilla:
		return StartGorilla(b.Gorilla)
	case Websockets:
		return StartWebsockets(b.Python)
	}
	return nil, fmt.Errorf("unknown server %q", name)
}

// start runs the process and waits until it accepts connections (and,
// for wsloop, serves /metrics).
func (t *Target) start(bin string, args ...string) error {
	w := &capped{b: new(bytes.Buffer), max: 1 << 20}
	t.out = w
	p, err := child.Start(bin, w, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	t.Process = p
	deadline := time.Now().Add(20 * time.Second)
	for {
		if !t.Running() {
			return fmt.Errorf("%s exited at start (%v): %s", t.Name, t.Err(), clip(w.String(), 2000))
		}
		if t.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			t.Stop(time.Second)
			return fmt.Errorf("%s not ready within 20s: %s", t.Name, clip(w.String(), 2000))
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a bounded wait
	}
}

func (t *Target) ready() bool {
	c, err := net.DialTimeout("tcp", t.Addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	if t.Admin != "" {
		_, err := scrape.Get(context.Background(), t.Admin)
		return err == nil
	}
	return true
}

// capped is a goroutine-safe writer that keeps the first max bytes.
type capped struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}
