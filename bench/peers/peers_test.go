package peers_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsloop/wsloop/internal/syncbuf"
)

// peers are the peer servers under bench/peers, each a main package named
// after its directory.
var peers = []struct {
	name string
	// dropsEmpty: the library never hands a 0-byte text or binary message
	// to the application, so it cannot be echoed. nbio v1.6.7 does this
	// (nbhttp/websocket Conn.Parse only passes a message on once a
	// non-empty payload has been received).
	dropsEmpty bool
}{
	{name: "gorilla"},
	{name: "coder"},
	{name: "gobwas"},
	{name: "gws"},
	{name: "nbio", dropsEmpty: true},
	{name: "floor"}, // linux only (epoll); so is the bench module
}

// maxMessage is the -max-message given to every peer in the test: above the
// largest echo checked (1 MiB) and below the oversized message (2 MiB + 1).
const maxMessage = 2 << 20

func TestPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds six binaries; skipped with -short")
	}
	bin := buildPeers(t)
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			testPeer(t, filepath.Join(bin, p.name), p.dropsEmpty)
		})
	}
}

// buildPeers builds every peer into one temporary directory with a single
// go build and returns that directory.
func buildPeers(t *testing.T) string {
	t.Helper()
	var names []string
	for _, p := range peers {
		names = append(names, p.name)
	}
	return build(t, names...)
}

// build builds the named peers into one temporary directory with a single
// go build and returns that directory.
func build(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir
}

type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncbuf.Buffer
	extra  chan string   // stdout lines after the listening line
	done   chan struct{} // closed when stdout reaches EOF
	exited chan struct{} // closed when the process has been waited for
	err    error         // cmd.Wait's result, set before exited is closed
}

// start runs the peer binary on a free loopback port (with extra
// arguments) and waits (at most 15 s) for its "listening <addr>" line.
func start(t *testing.T, bin string, extra ...string) *server {
	t.Helper()
	s := &server{
		cmd:    exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-max-message", fmt.Sprint(maxMessage)}, extra...)...),
		stderr: &syncbuf.Buffer{},
		extra:  make(chan string, 100),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			if n == 0 {
				first <- sc.Text()
			} else {
				select {
				case s.extra <- sc.Text():
				default:
				}
			}
			n++
		}
		close(first)
	}()
	go func() {
		<-s.done // all of stdout read before Wait closes the pipe
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})

	select {
	case line, ok := <-first:
		if !ok {
			t.Fatalf("no listening line; stderr:\n%s", s.stderr.String())
		}
		addr, found := strings.CutPrefix(line, "listening ")
		if !found {
			t.Fatalf("first stdout line = %q, want %q", line, "listening <addr>")
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Fatalf("listening line %q: want the bound 127.0.0.1 address (err %v)", line, err)
		}
		s.addr = addr
	case <-time.After(15 * time.Second):
		t.Fatalf("no listening line within 15s; stderr:\n%s", s.stderr.String())
	}
	return s
}

func dial(t *testing.T, addr, path string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	_ = resp.Body.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Errorf("server negotiated extensions %q; compression must be off", ext)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func payload(mt, n int, rng *rand.Rand) []byte {
	p := make([]byte, n)
	for i := range p {
		if mt == websocket.TextMessage {
			p[i] = byte('a' + rng.IntN(26)) // valid UTF-8
		} else {
			p[i] = byte(rng.Uint32())
		}
	}
	return p
}

func echo(t *testing.T, c *websocket.Conn, mt int, p []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(mt, p); err != nil {
		t.Fatalf("write %d B type %d: %v", len(p), mt, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	gotType, got, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read echo of %d B type %d: %v", len(p), mt, err)
	}
	if gotType != mt {
		t.Fatalf("echo of %d B: type %d, want %d", len(p), gotType, mt)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("echo of %d B type %d: got %d B, different content", len(p), mt, len(got))
	}
}

func testPeer(t *testing.T, bin string, dropsEmpty bool) {
	s := start(t, bin)
	rng := rand.New(rand.NewPCG(1, 2))

	t.Run("echo", func(t *testing.T) {
		c := dial(t, s.addr, "/")
		for _, n := range []int{0, 125, 64 << 10, 1 << 20} {
			if n == 0 && dropsEmpty {
				t.Log("0-byte messages not checked: this library drops them (known limitation)")
				continue
			}
			for _, mt := range []int{websocket.TextMessage, websocket.BinaryMessage} {
				echo(t, c, mt, payload(mt, n, rng))
			}
		}
	})

	t.Run("any path", func(t *testing.T) {
		c := dial(t, s.addr, "/some/other/path?x=1")
		echo(t, c, websocket.TextMessage, []byte("hello"))
	})

	t.Run("ping", func(t *testing.T) {
		c := dial(t, s.addr, "/")
		pongs := make(chan string, 10)
		c.SetPongHandler(func(data string) error {
			pongs <- data
			return nil
		})
		const data = "ping-payload"
		if err := c.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		// Pong handlers run inside ReadMessage: echo a few messages until the
		// pong has been seen (bounded).
		for i := range 20 {
			echo(t, c, websocket.TextMessage, []byte(fmt.Sprintf("sync %d", i)))
			select {
			case got := <-pongs:
				if got != data {
					t.Fatalf("pong payload %q, want %q", got, data)
				}
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no pong")
	})

	t.Run("close", func(t *testing.T) {
		c := dial(t, s.addr, "/")
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
		if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, _, err := c.ReadMessage()
			if err == nil {
				continue // cannot loop forever: the read deadline ends it
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("after close 1000: %v, want the close frame echoed", err)
			}
			if ce.Code != websocket.CloseNormalClosure {
				t.Fatalf("close code %d echoed, want 1000", ce.Code)
			}
			return
		}
	})

	t.Run("too big", func(t *testing.T) {
		c := dial(t, s.addr, "/")
		p := payload(websocket.BinaryMessage, maxMessage+1, rng)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		// The server may close before the whole message is written.
		_ = c.WriteMessage(websocket.BinaryMessage, p)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			mt, got, err := c.ReadMessage()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("message over -max-message: connection still open after 10s")
				}
				return // closed, with 1009 or abruptly: either is a refusal
			}
			t.Fatalf("message over -max-message was answered: type %d, %d B", mt, len(got))
		}
	})

	t.Run("sigterm", func(t *testing.T) {
		// An upgraded connection stays open: it must not hold the exit.
		c := dial(t, s.addr, "/")
		echo(t, c, websocket.BinaryMessage, []byte{1, 2, 3})
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.exited:
			if s.err != nil {
				t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", s.err, s.stderr.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("still running 5s after SIGTERM; stderr:\n%s", s.stderr.String())
		}
		// The connection must now be gone.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadMessage(); err == nil {
			t.Fatal("connection still answers after the server exited")
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("connection still open 5s after the server exited")
		}
	})

	select {
	case line := <-s.extra:
		t.Errorf("stdout must hold only the listening line; also got %q", line)
	default:
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", s.stderr.String())
	}
}
