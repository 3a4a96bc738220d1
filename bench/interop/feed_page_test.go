package interop

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestFeedPage runs the real `wsloop -mode feed` binary and loads its live
// ticker page in headless Chromium (Debian's package) driven by
// playwright-core (testdata/feed_page.js, which holds the browser-side
// checks). It checks that the page connects, shows every symbol, updates
// prices in place and sees no sequence gap; that after the server drops its
// connection (-idle-timeout) it reconnects and recovers the missed messages
// from the topic's history with still no gap; and that after the server
// restarts (a new in-process broker, so a new epoch) it reconnects, gets
// "recovery":"snapshot" (the right answer: the missed updates cannot be
// replayed), replaces every row from the snapshot, then goes on with the
// live stream. This test owns the wsloop processes and tells the script
// when the server is gone and when it is back.
func TestFeedPage(t *testing.T) {
	const browser = "/usr/bin/chromium"
	if _, err := os.Stat(browser); err != nil {
		missing(t, "%s not found (apt-get install -y chromium)", browser)
	}
	node := needPlaywright(t)
	const symbols = 20
	dir := t.TempDir()
	bin := filepath.Join(dir, "wsloop")
	buildWsloop(t, bin)
	addr := freeLoopbackAddr(t)
	args := []string{"-mode", "feed", "-addr", addr, "-feed-symbols", strconv.Itoa(symbols), "-feed-rate", "100"}

	// The first server closes connections silent for 2 s: the page only
	// listens, so it is dropped every 2 s and must recover each time.
	first := startWsloop(t, bin, append(args, "-idle-timeout", "2s")...)
	page := startNodeScript(t, node, "feed_page.js", browser, strconv.Itoa(symbols), "http://"+addr+"/")
	page.expect(t, "PHASE1 OK", 90*time.Second)

	first.stop(t)
	page.send(t, "stopped")
	page.expect(t, "PHASE2 OK", 20*time.Second)

	startWsloop(t, bin, args...)
	page.send(t, "restarted")
	page.expect(t, "OK", 60*time.Second)
	page.wait(t, 30*time.Second)
}

// buildWsloop builds cmd/wsloop (through the bench module's replace, the
// working tree's) into out.
func buildWsloop(t *testing.T, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/wsloop/wsloop/cmd/wsloop").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/wsloop: %v\n%s", err, b)
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port is free now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// wsloopProc is a wsloop process started by the test.
type wsloopProc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

// startWsloop runs the binary with args, waits until its health check
// answers, and kills it when the test ends unless stopped before.
func startWsloop(t *testing.T, bin string, args ...string) *wsloopProc {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &wsloopProc{cmd: cmd, out: &out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil
		if t.Failed() {
			t.Logf("wsloop %q output:\n%s", args, &out)
		}
	})
	addr := args[slices.Index(args, "-addr")+1]
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("wsloop %q exited: %v\n%s", args, err, &out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wsloop %q not healthy within 15 s: %v\n%s", args, err, &out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM (a graceful drain) and waits for the process to exit.
func (p *wsloopProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("wsloop after SIGTERM: %v\n%s", err, p.out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("wsloop still running 20 s after SIGTERM\n%s", p.out)
	}
}
