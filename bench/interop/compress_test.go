package interop

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/server"
)

// The permessage-deflate tests (RFC 7692) run real clients through a frame
// tap (wireTap) to an echo server built WithCompression. The clients check
// their echoes and the negotiated extension; the test checks, on the wire,
// which of the server's messages went out compressed (RSV1) and how small
// they got, and that the server saw compression negotiated (Conn.Compressed).

// compressSizes are the message sizes of every compression run: around the
// length-encoding boundaries and the 256-byte threshold, up to 1 MiB.
var compressSizes = []int{0, 1, 125, 126, 255, 256, 257, 4096, 65535, 65536, 1 << 20}

// compressKinds are the payload kinds the clients generate (see the scripts
// in testdata/): compressible text, random ASCII text, zero bytes, random
// bytes.
var compressKinds = []string{"text", "rtext", "zeros", "random"}

// compressMsg is one message of a run, as the clients generate it.
type compressMsg struct {
	kind string
	size int
}

// compressPlan lists every kind at every size, and encodes it as the SPEC
// argument of the client scripts.
func compressPlan() ([]compressMsg, string) {
	var msgs []compressMsg
	var spec []string
	for _, n := range compressSizes {
		for _, k := range compressKinds {
			msgs = append(msgs, compressMsg{k, n})
			spec = append(spec, fmt.Sprintf("%s:%d", k, n))
		}
	}
	return msgs, strings.Join(spec, ",")
}

// compressServer is an echo server that records, per connection, whether
// permessage-deflate was negotiated.
type compressServer struct {
	addr       string
	compressed chan bool
}

func startCompressServer(t *testing.T, level, min int) *compressServer {
	t.Helper()
	cs := &compressServer{compressed: make(chan bool, 16)}
	srv := server.New(server.HandlerFuncs{
		Open: func(c *server.Conn) {
			select {
			case cs.compressed <- c.Compressed():
			default:
			}
		},
		Message: func(c *server.Conn, m server.Message) { _ = c.Send(m.Type, m.Data, nil) },
	}, server.WithCompression(level, min), server.WithMaxMessageSize(maxMessage))
	serve(t, srv)
	cs.addr = srv.Addr()
	return cs
}

// wantCompressed checks what the server recorded for the one connection of
// a run.
func (cs *compressServer) wantCompressed(t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-cs.compressed:
		if got != want {
			t.Errorf("server side: Conn.Compressed() = %v, want %v", got, want)
		}
	default:
		t.Errorf("server side: no connection was opened")
	}
	select {
	case <-cs.compressed:
		t.Errorf("server side: more than one connection was opened")
	default:
	}
}

// wireFrame is a frame header seen by a wireTap.
type wireFrame struct {
	fromClient bool
	op         ws.OpCode
	fin, rsv1  bool
	length     int64
}

// wireTap is a TCP relay between WebSocket clients and a server that
// forwards every byte unchanged and records the header of every frame in
// both directions.
type wireTap struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frames []wireFrame
	errs   []error
	conns  []net.Conn
	active int
	wg     sync.WaitGroup
}

// startWireTap listens on a free loopback port and relays to target.
func startWireTap(t *testing.T, target string) *wireTap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := &wireTap{ln: ln, target: target}
	tap.wg.Add(1)
	go tap.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		tap.mu.Lock()
		for _, c := range tap.conns {
			_ = c.Close()
		}
		tap.mu.Unlock()
		tap.wg.Wait()
	})
	return tap
}

func (tap *wireTap) addr() string { return tap.ln.Addr().String() }

func (tap *wireTap) serve() {
	defer tap.wg.Done()
	for {
		c, err := tap.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", tap.target)
		if err != nil {
			tap.fail(err)
			_ = c.Close()
			continue
		}
		tap.mu.Lock()
		tap.conns = append(tap.conns, c, s)
		tap.active++
		tap.mu.Unlock()
		tap.wg.Add(1)
		go func() {
			defer tap.wg.Done()
			var pair sync.WaitGroup
			pair.Add(2)
			go func() { defer pair.Done(); tap.relay(c, s, true) }()
			go func() { defer pair.Done(); tap.relay(s, c, false) }()
			pair.Wait()
			_ = c.Close()
			_ = s.Close()
			tap.mu.Lock()
			tap.active--
			tap.mu.Unlock()
		}()
	}
}

func (tap *wireTap) fail(err error) {
	tap.mu.Lock()
	tap.errs = append(tap.errs, err)
	tap.mu.Unlock()
}

// relay copies one direction: the HTTP head, then frame by frame (or the
// rest as it is after a response other than 101).
func (tap *wireTap) relay(src, dst net.Conn, fromClient bool) {
	defer func() { _ = dst.(*net.TCPConn).CloseWrite() }()
	br := bufio.NewReaderSize(src, 64<<10)
	bw := bufio.NewWriterSize(dst, 64<<10)
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil || len(head) > 64<<10 {
			_, _ = dst.Write(head)
			return
		}
	}
	if _, err := dst.Write(head); err != nil {
		return
	}
	if !fromClient && !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
		_, _ = io.Copy(dst, br)
		return
	}
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				tap.fail(fmt.Errorf("tap: frame header from %s: %w", tapSide(fromClient), err))
			}
			return
		}
		tap.mu.Lock()
		tap.frames = append(tap.frames, wireFrame{fromClient, h.OpCode, h.Fin, h.Rsv1(), h.Length})
		tap.mu.Unlock()
		if err := ws.WriteHeader(bw, h); err != nil {
			return
		}
		if _, err := io.CopyN(bw, br, h.Length); err != nil {
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

func tapSide(fromClient bool) string {
	if fromClient {
		return "client"
	}
	return "server"
}

// wireMsg is a data message reassembled from the frames of one direction:
// compressed tells whether its first frame had RSV1, wire is its payload
// length on the wire.
type wireMsg struct {
	op         ws.OpCode
	compressed bool
	wire       int64
}

// messages waits (bounded) until every relayed connection has ended and
// returns the data messages that went one way.
func (tap *wireTap) messages(t *testing.T, fromClient bool) []wireMsg {
	t.Helper()
	for i := 0; ; i++ {
		tap.mu.Lock()
		active := tap.active
		tap.mu.Unlock()
		if active == 0 {
			break
		}
		if i == 200 {
			t.Fatalf("tap: %d connections still open 10 s after the client ended", active)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tap.mu.Lock()
	defer tap.mu.Unlock()
	for _, err := range tap.errs {
		t.Error(err)
	}
	var msgs []wireMsg
	for _, f := range tap.frames {
		switch {
		case f.fromClient != fromClient || f.op.IsControl():
		case f.op == ws.OpContinuation && len(msgs) > 0:
			msgs[len(msgs)-1].wire += f.length
		default:
			msgs = append(msgs, wireMsg{f.op, f.rsv1, f.length})
		}
	}
	return msgs
}

// checkCompressWire checks the server's echoes on the wire: one message per
// planned message, compressed exactly when deflate was negotiated and the
// message is at least min bytes, and compressible payloads of 4 KiB and
// more shrunk to at most maxRatio of their size. It also requires that the
// client sent at least one compressed message when deflate was negotiated,
// so that the server's inflate path ran.
func checkCompressWire(t *testing.T, tap *wireTap, plan []compressMsg, deflate bool, min int, maxRatio float64) {
	t.Helper()
	out := tap.messages(t, false)
	if len(out) != len(plan) {
		t.Fatalf("wire: server sent %d data messages, want %d", len(out), len(plan))
	}
	for i, m := range out {
		p := plan[i]
		want := deflate && (min < 0 || p.size >= min)
		if m.compressed != want {
			t.Errorf("wire: server's echo of %s:%d: RSV1 (compressed) = %v, want %v", p.kind, p.size, m.compressed, want)
			continue
		}
		switch {
		case !m.compressed && m.wire != int64(p.size):
			t.Errorf("wire: server's uncompressed echo of %s:%d has %d payload bytes", p.kind, p.size, m.wire)
		case m.compressed && (p.kind == "text" || p.kind == "zeros") && p.size >= 4096 && m.wire > int64(float64(p.size)*maxRatio):
			t.Errorf("wire: server's compressed echo of %s:%d has %d payload bytes, want at most %d", p.kind, p.size, m.wire, int64(float64(p.size)*maxRatio))
		}
	}
	in := tap.messages(t, true)
	if len(in) != len(plan) {
		t.Errorf("wire: client sent %d data messages, want %d", len(in), len(plan))
	}
	n := 0
	for _, m := range in {
		if m.compressed {
			n++
		}
	}
	switch {
	case deflate && n == 0:
		t.Errorf("wire: client sent no compressed message, so the server's inflate was not exercised")
	case !deflate && n > 0:
		t.Errorf("wire: client sent %d compressed messages without permessage-deflate negotiated", n)
	}
	t.Logf("wire: client sent %d of %d messages compressed", n, len(in))
}

// Largest compressed/original size ratios of the compressible payloads of
// 4 KiB and more: fourfold with a 32 KiB window; with a smaller one the
// server compresses Huffman-only (no back-references), which shrinks the
// text kind about twofold and zeros eightfold.
const (
	maxRatio            = 0.25
	maxRatioSmallWindow = 0.6
)

// compressConfigs are the server settings every client runs against:
// min -1 compresses every message (min 0 would mean the 256-byte default).
var compressConfigs = []struct {
	name       string
	level, min int
}{
	{"all", 1, -1},
	{"min256", 1, 256},
}

func TestCompressPythonWebsockets(t *testing.T) {
	needPython(t, "websockets")
	plan, spec := compressPlan()
	for _, cfg := range compressConfigs {
		for _, tc := range []struct {
			mode    string
			deflate bool
			ratio   float64
		}{
			{"deflate", true, maxRatio},
			{"none", false, maxRatio},
			{"smallwindow", true, maxRatioSmallWindow},
		} {
			t.Run(cfg.name+"/"+tc.mode, func(t *testing.T) {
				cs := startCompressServer(t, cfg.level, cfg.min)
				tap := startWireTap(t, cs.addr)
				out := runCommand(t, systemPython, "compress_websockets.py", "ws://"+tap.addr()+"/", tc.mode, spec)
				t.Logf("client: %s", strings.TrimSpace(out))
				checkCompressWire(t, tap, plan, tc.deflate, cfg.min, tc.ratio)
				cs.wantCompressed(t, tc.deflate)
			})
		}
	}
}

func TestCompressNodeWs(t *testing.T) {
	node := needNodeWs(t)
	plan, spec := compressPlan()
	for _, cfg := range compressConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			cs := startCompressServer(t, cfg.level, cfg.min)
			tap := startWireTap(t, cs.addr)
			out := runCommand(t, node, "compress_ws.js", "ws://"+tap.addr()+"/", spec)
			t.Logf("client: %s", strings.TrimSpace(out))
			checkCompressWire(t, tap, plan, true, cfg.min, maxRatio)
			cs.wantCompressed(t, true)
		})
	}
}

//go:embed testdata/compress_chromium.html
var compressChromiumPage []byte

// TestCompressChromium loads testdata/compress_chromium.html in headless
// Chromium from a plain HTTP test server; the page echoes the planned
// messages through wsloop and POSTs its verdict back to that server.
func TestCompressChromium(t *testing.T) {
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		missing(t, "%s not found (apt-get install -y chromium)", bin)
	}
	plan, spec := compressPlan()
	for _, cfg := range compressConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			cs := startCompressServer(t, cfg.level, cfg.min)
			tap := startWireTap(t, cs.addr)
			verdict := make(chan string, 1)
			page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/" && r.Method == http.MethodGet:
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					_, _ = w.Write(compressChromiumPage)
				case r.URL.Path == "/report" && r.Method == http.MethodPost:
					b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
					select {
					case verdict <- string(b):
					default:
					}
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(page.Close)
			q := url.Values{"ws": {"ws://" + tap.addr() + "/"}, "spec": {spec}}
			runCompressChromium(t, bin, page.URL+"/?"+q.Encode(), verdict)
			checkCompressWire(t, tap, plan, true, cfg.min, maxRatio)
			cs.wantCompressed(t, true)
		})
	}
}

// runCompressChromium opens pageURL in headless Chromium and waits for the
// page's verdict (bounded), then ends the browser.
func runCompressChromium(t *testing.T, bin, pageURL string, verdict <-chan string) {
	t.Helper()
	profile, err := os.MkdirTemp("", "wsloop-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: Chromium's helpers may still be writing there when it
	// is killed, and a failed removal must not fail the test.
	defer func() { _ = os.RemoveAll(profile) }()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, pageURL)
	// Its own process group, so that the renderer and helper processes go
	// down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	defer stop()
	select {
	case r := <-verdict:
		if !strings.HasPrefix(r, "OK ") {
			t.Fatalf("chromium page: %s", r)
		}
		if !strings.Contains(r, "permessage-deflate") {
			t.Fatalf("chromium page: permessage-deflate missing from %q", r)
		}
		t.Logf("chromium page: %s", r)
	case <-ctx.Done():
		stop() // out is complete only once Chromium has exited
		o := out.Bytes()
		o = o[max(0, len(o)-4096):]
		t.Fatalf("chromium page reported nothing within 90 s; end of chromium output:\n%s", o)
	}
}
