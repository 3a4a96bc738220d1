package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFeedPage runs the real `wsloop -mode feed` binary and loads its live
// ticker page in headless Chromium (Debian's package), reading the page's
// DOM through the DevTools protocol. It checks that the page connects,
// shows every symbol, updates prices in place and sees no sequence gap;
// that after the server drops its connection (-idle-timeout) it
// reconnects and recovers the missed messages from the topic's history
// with still no gap; and that after the server restarts (a new in-process
// broker, so a new epoch) it reconnects and reports "recovery failed", the
// right answer, then goes on with a fresh stream.
func TestFeedPage(t *testing.T) {
	browser := "/usr/bin/chromium"
	if _, err := os.Stat(browser); err != nil {
		missing(t, "%s not found (apt-get install -y chromium)", browser)
	}
	const symbols = 20
	dir := t.TempDir()
	bin := filepath.Join(dir, "wsloop")
	buildWsloop(t, bin)
	addr := freeLoopbackAddr(t)
	args := []string{"-mode", "feed", "-addr", addr, "-feed-symbols", strconv.Itoa(symbols), "-feed-rate", "100"}

	// The first server closes connections silent for 2 s: the page only
	// listens, so it is dropped every 2 s and must recover each time.
	first := startWsloop(t, bin, append(args, "-idle-timeout", "2s")...)
	page := openPage(t, browser, "http://"+addr+"/")

	s := page.waitFor(t, "the page open with every symbol", 20*time.Second, func(s pageState) bool {
		return s.State == "open" && len(s.Rows) == symbols && s.Count > 0
	})
	before := s.Rows
	s = page.waitFor(t, "prices updated in place", 10*time.Second, func(s pageState) bool {
		changed := 0
		for sym, px := range s.Rows {
			if px != before[sym] {
				changed++
			}
		}
		return changed >= symbols/2 && s.NRows == symbols
	})
	s = page.waitFor(t, "a reconnect with recovery", 15*time.Second, func(s pageState) bool {
		return s.Reconnects >= 1 && s.Recovery == "ok" && s.State == "open"
	})
	count := s.Count
	s = page.waitFor(t, "the stream going on after recovery", 10*time.Second, func(s pageState) bool {
		return s.Count > count+50 && s.State == "open"
	})
	if s.Gaps != 0 {
		t.Fatalf("%d sequence gaps across idle-timeout reconnects (recovery should fill them): %+v", s.Gaps, s)
	}

	first.stop(t)
	page.waitFor(t, "the page noticing the server went away", 10*time.Second, func(s pageState) bool {
		return s.State != "open"
	})
	reconnects := s.Reconnects
	startWsloop(t, bin, args...)
	s = page.waitFor(t, "the page back on the restarted server", 20*time.Second, func(s pageState) bool {
		return s.State == "open" && s.Recovery == "failed" && s.Reconnects > reconnects
	})
	count = s.Count
	s = page.waitFor(t, "a fresh stream after the restart", 10*time.Second, func(s pageState) bool {
		return s.Count > count+50 && s.State == "open" && s.Recovery == "failed"
	})
	if s.Gaps != 0 || s.NRows != symbols {
		t.Fatalf("after the restart: %d gaps, %d rows (want 0 and %d): %+v", s.Gaps, s.NRows, symbols, s)
	}
}

// pageState is what the feed page shows (its element ids are the page's
// contract with this test).
type pageState struct {
	State      string            `json:"state"`
	Count      int               `json:"count"`
	Gaps       int               `json:"gaps"`
	Reconnects int               `json:"reconnects"`
	Recovery   string            `json:"recovery"`
	Rows       map[string]string `json:"rows"` // symbol → price shown
	NRows      int               `json:"nrows"`
}

// pageStateJS reads a pageState from the page's DOM.
const pageStateJS = `(() => {
  const e = (id) => document.getElementById(id);
  if (!e("state")) return "null";
  const rows = {};
  for (const tr of document.querySelectorAll("#rows tr[data-sym]")) rows[tr.dataset.sym] = tr.querySelector(".px").textContent;
  return JSON.stringify({
    state: e("state").dataset.state, count: +e("count").textContent, gaps: +e("gaps").textContent,
    reconnects: +e("reconnects").textContent, recovery: e("recovery").dataset.result,
    rows, nrows: document.querySelectorAll("#rows tr").length,
  });
})()`

// waitFor polls the page's state until ok accepts it, failing the test
// after timeout.
func (p *devtoolsPage) waitFor(t *testing.T, what string, timeout time.Duration, ok func(pageState) bool) pageState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var s pageState
	for {
		raw, err := p.evaluate(pageStateJS)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		s = pageState{}
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			t.Fatalf("waiting for %s: page state %q: %v", what, raw, err)
		}
		if ok(s) {
			t.Logf("%s: state %s, %d messages, %d gaps, %d reconnects, recovery %q, %d rows",
				what, s.State, s.Count, s.Gaps, s.Reconnects, s.Recovery, s.NRows)
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; the page shows %+v", what, timeout, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// devtoolsPage is a page of a headless Chromium, driven through the
// DevTools protocol (cdpConn). Its methods are for one goroutine.
type devtoolsPage struct {
	cdp *cdpConn
}

// openPage starts headless Chromium on url with a DevTools port and
// attaches to the page. The browser is killed when the test ends.
func openPage(t *testing.T, browser, url string) *devtoolsPage {
	t.Helper()
	profile, err := os.MkdirTemp("", "wsloop-feed-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: Chromium's helpers may still be writing there when it
	// is killed, and a failed removal must not fail the test.
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	cmd := exec.Command(browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+profile, url)
	// Its own process group, so that the renderer and helper processes go
	// down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	// Chromium writes its DevTools port to DevToolsActivePort in the
	// profile once it listens.
	var port string
	deadline := time.Now().Add(30 * time.Second)
	for port == "" {
		if b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			port, _, _ = strings.Cut(string(b), "\n")
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium wrote no DevToolsActivePort within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	target, err := pageTarget("127.0.0.1:"+port, url, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cdp, err := dialCDP(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cdp.Close() })
	return &devtoolsPage{cdp: cdp}
}

// pageTarget finds the DevTools WebSocket URL of the page showing url.
func pageTarget(devtools, url string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var targets []struct {
			Type, URL            string
			WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
		}
		resp, err := http.Get("http://" + devtools + "/json/list")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		for _, tg := range targets {
			if tg.Type == "page" && strings.HasPrefix(tg.URL, url) && tg.WebSocketDebuggerURL != "" {
				return tg.WebSocketDebuggerURL, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no DevTools page target for %s within %v (last error %v, targets %+v)", url, timeout, err, targets)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// evaluate runs a JavaScript expression that yields a string in the page
// and returns the string.
func (p *devtoolsPage) evaluate(expr string) (string, error) {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.cdp.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return "", err
	}
	if res.ExceptionDetails != nil {
		return "", fmt.Errorf("page exception: %s", res.ExceptionDetails.Text)
	}
	var s string
	if err := json.Unmarshal(res.Result.Value, &s); err != nil {
		return "", fmt.Errorf("evaluate: %s result %s", res.Result.Type, res.Result.Value)
	}
	return s, nil
}
