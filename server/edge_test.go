package server_test

// Hostile inputs at the edge of the server (options_edge.go): admission
// control, authentication, limits, slow consumers, subprotocols, health
// checks and client addresses from proxies. Every row of TestEdgeHostile
// runs against its own server while a well-behaved client on the same
// server keeps getting echoes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/server"
)

// ---------------------------------------------------------------------------
// Handshake client

// hsReq is one upgrade attempt by a raw client.
type hsReq struct {
	target string   // request target; "/ws" when empty
	header []string // extra header lines
	prefix []byte   // bytes sent before the request head (a PROXY header)
	from   string   // local IP to dial from; "" picks the default
	rcvbuf int      // SO_RCVBUF of the client socket; 0 keeps the default
}

// hsResult is the server's answer to an upgrade attempt.
type hsResult struct {
	status int
	header http.Header
	body   string
	c      *client // the open connection, for a 101
}

// dialFrom connects to addr from the local IP from (any when ""), with a
// receive buffer of rcvbuf bytes when rcvbuf > 0 (set before connecting, so
// the advertised window is small from the start).
func dialFrom(addr, from string, rcvbuf int) (net.Conn, error) {
	d := net.Dialer{Timeout: readTimeout}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	return d.Dial("tcp", addr)
}

// tryHandshake runs one upgrade attempt. It never calls t.Fatal, so it may
// run on any goroutine; the connection of a 101 is closed at cleanup, the
// others at once.
func tryHandshake(t testing.TB, addr string, r hsReq) (*hsResult, error) {
	conn, err := dialFrom(addr, r.from, r.rcvbuf)
	if err != nil {
		return nil, err
	}
	target := r.target
	if target == "" {
		target = "/ws"
	}
	key := newKey()
	req := append([]byte(nil), r.prefix...)
	req = append(req, "GET "+target+" HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n"...)
	for _, h := range r.header {
		req = append(req, h+"\r\n"...)
	}
	req = append(req, "\r\n"...)
	conn.SetDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read upgrade response: %w", err)
	}
	res := &hsResult{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		res.body = string(body)
		conn.Close()
		return res, nil
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		conn.Close()
		return nil, fmt.Errorf("101 with Sec-WebSocket-Accept %q", got)
	}
	conn.SetDeadline(time.Time{})
	t.Cleanup(func() { conn.Close() })
	res.c = &client{t: t, conn: conn, br: br}
	return res, nil
}

// handshake is tryHandshake on the test goroutine.
func handshake(t *testing.T, addr string, r hsReq) *hsResult {
	t.Helper()
	res, err := tryHandshake(t, addr, r)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	return res
}

// expectStatus requires an HTTP refusal with status (a 101 when status is
// 101), with Retry-After when retry is set and bodyHas in the body.
func expectStatus(t *testing.T, res *hsResult, status int, retry bool, bodyHas string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d (body %q), want %d", res.status, res.body, status)
	}
	if retry {
		if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("%d without a valid Retry-After (got %q)", status, res.header.Get("Retry-After"))
		}
	}
	if !strings.Contains(res.body, bodyHas) {
		t.Errorf("body %q, want it to contain %q", res.body, bodyHas)
	}
}

// upgraded requires a 101 and returns the client.
func upgraded(t *testing.T, res *hsResult) *client {
	t.Helper()
	if res.status != http.StatusSwitchingProtocols || res.c == nil {
		t.Fatalf("status %d (body %q), want 101", res.status, res.body)
	}
	return res.c
}

// echoOnce sends one text message and requires its echo.
func echoOnce(c *client, s string) {
	c.t.Helper()
	c.mustWrite(encode(true, 0, ws.OpText, []byte(s)))
	c.expectMessage(ws.OpText, []byte(s), readTimeout)
}

// httpGet sends a plain GET for path and returns the status line and the
// body, which must end where the server closes the connection. It closes
// its side at once: a lingering server socket would hold Shutdown.
func httpGet(t *testing.T, addr, path string) (status, body string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, readTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read response (the server must close after it): %v; got %q", err, raw)
	}
	head, body, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok {
		t.Fatalf("response without end of head: %q", raw)
	}
	status, _, _ = strings.Cut(head, "\r\n")
	return status, body
}

// readUntilClose skips data frames until the server's close frame.
func readUntilClose(t *testing.T, c *client) frame {
	t.Helper()
	for range 100000 {
		f, err := c.readFrame(readTimeout)
		if err != nil {
			t.Fatalf("expected a close frame, got read error: %v", err)
		}
		if f.op == ws.OpClose {
			return f
		}
		if f.op != ws.OpText && f.op != ws.OpBinary && f.op != ws.OpContinuation {
			t.Fatalf("expected data or close, got %s", f)
		}
	}
	t.Fatal("no close frame after 100000 frames")
	return frame{}
}

// bystanderIP is the loopback address the well-behaved client connects
// from, so that per-IP limits and trusted-proxy lists see it apart from the
// hostile clients on 127.0.0.1. Linux routes all of 127.0.0.0/8 to lo.
const bystanderIP = "127.0.0.2"

// ---------------------------------------------------------------------------
// Upgrade counters

// upgradeIndex returns the index in Stats.Upgrades of the result labelled
// label ("accepted", "origin", ...).
func upgradeIndex(t testing.TB, label string) int {
	t.Helper()
	for r := range server.NumUpgradeResults {
		if r.String() == label {
			return int(r)
		}
	}
	t.Fatalf("no upgrade result labelled %q", label)
	return -1
}

// upgradeCounts returns Stats.Upgrades by label, without zeros.
func upgradeCounts(s server.Stats) map[string]uint64 {
	m := make(map[string]uint64)
	for r := range server.NumUpgradeResults {
		if n := s.Upgrades[r]; n > 0 {
			m[r.String()] = n
		}
	}
	return m
}

// expectUpgrades waits until Stats.Upgrades equals want exactly (labels
// absent from want must be zero). Counters may trail the response the
// client read by a moment: a 101 is counted right after it is written.
func expectUpgrades(t *testing.T, srv *server.Server, want map[string]uint64) {
	t.Helper()
	for label := range want {
		upgradeIndex(t, label)
	}
	equal := func(got map[string]uint64) bool {
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := upgradeCounts(srv.Stats())
		if equal(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats().Upgrades = %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Handler

// openInfo is what OnOpen saw of a connection.
type openInfo struct {
	remote     string
	proto      string
	identity   any
	compressed bool
}

// floodLog records a flood's Sends and their completion callbacks.
type floodLog struct {
	mu       sync.Mutex
	accepted int   // Sends that returned nil
	sendErr  error // the error that ended the flood, if any
	finished bool  // the Send loop is over
	// results maps message sequence numbers to done's error; a lean
	// flood (whose bookkeeping must not weigh on heap measurements)
	// only counts the callbacks by outcome.
	results map[int]error
	counts  [4]int // lean: nil, ErrDropped, ErrSlowConsumer, other
	calls   int    // done callbacks
	dups    int    // done callbacks called twice
}

func (f *floodLog) done(seq int) func(error) {
	return func(err error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls++
		if f.results == nil {
			f.counts[outcome(err)]++
			return
		}
		if _, ok := f.results[seq]; ok {
			f.dups++
		}
		f.results[seq] = err
	}
}

// outcome classifies a done callback's error: nil, ErrDropped,
// ErrSlowConsumer, other.
func outcome(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, server.ErrDropped):
		return 1
	case errors.Is(err, server.ErrSlowConsumer):
		return 2
	}
	return 3
}

// complete reports whether the flood is over and every accepted Send's
// callback ran.
func (f *floodLog) complete() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.finished && f.calls >= f.accepted
}

// tally counts the callbacks by outcome.
func (f *floodLog) tally() (ok, dropped, slow, other int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.counts
	for _, err := range f.results {
		c[outcome(err)]++
	}
	return c[0], c[1], c[2], c[3]
}

// edgeHandler echoes, records each connection's OnOpen and OnClose by the
// "id" query parameter of its upgrade request, and answers a text message
// "flood N SIZE" by sending N binary messages of SIZE bytes, each starting
// with its sequence number, without waiting for anything. "leanflood N
// SIZE" does likewise but keeps only counts of the outcomes, and "paced N
// SIZE" also waits for each Send's callback before the next Send, so that
// the loop is never behind the handler and the backlog builds up in gnet's
// buffer rather than in the Send queue.
type edgeHandler struct {
	mu     sync.Mutex
	opens  map[string]openInfo
	closes map[string]error
	floods map[string]*floodLog
}

func newEdgeHandler() *edgeHandler {
	return &edgeHandler{
		opens:  make(map[string]openInfo),
		closes: make(map[string]error),
		floods: make(map[string]*floodLog),
	}
}

func connID(c *server.Conn) string {
	id, _ := c.Value().(string)
	return id
}

func (h *edgeHandler) OnOpen(c *server.Conn) {
	id := c.Request().Query().Get("id")
	c.SetValue(id)
	info := openInfo{proto: c.Subprotocol(), identity: c.Identity(), compressed: c.Compressed()}
	if a := c.RemoteAddr(); a != nil {
		info.remote = a.String()
	}
	h.mu.Lock()
	h.opens[id] = info
	h.mu.Unlock()
}

func (h *edgeHandler) OnMessage(c *server.Conn, m server.Message) {
	var n, size int
	if m.Type == server.Text {
		if k, _ := fmt.Sscanf(string(m.Data), "flood %d %d", &n, &size); k == 2 {
			h.flood(c, n, size, false, false)
			return
		}
		if k, _ := fmt.Sscanf(string(m.Data), "leanflood %d %d", &n, &size); k == 2 {
			h.flood(c, n, size, true, false)
			return
		}
		if k, _ := fmt.Sscanf(string(m.Data), "paced %d %d", &n, &size); k == 2 {
			h.flood(c, n, size, true, true)
			return
		}
	}
	_ = c.Send(m.Type, m.Data, nil)
}

func (h *edgeHandler) flood(c *server.Conn, n, size int, lean, paced bool) {
	f := new(floodLog)
	if !lean {
		f.results = make(map[int]error)
	}
	h.mu.Lock()
	h.floods[connID(c)] = f
	h.mu.Unlock()
	p := make([]byte, max(size, 4))
	called := make(chan struct{}, 1)
	for i := range n {
		binary.BigEndian.PutUint32(p, uint32(i))
		done := f.done(i)
		if paced {
			record := done
			done = func(err error) {
				record(err)
				called <- struct{}{} // buffered: never blocks the loop
			}
		}
		if err := c.Send(server.Binary, p, done); err != nil {
			f.mu.Lock()
			f.sendErr = err
			f.mu.Unlock()
			break
		}
		f.mu.Lock()
		f.accepted++
		f.mu.Unlock()
		if paced {
			select {
			case <-called:
			case <-time.After(10 * time.Second):
				panic("no Send callback in 10 s")
			}
		}
	}
	f.mu.Lock()
	f.finished = true
	f.mu.Unlock()
}

func (h *edgeHandler) OnClose(c *server.Conn, err error) {
	h.mu.Lock()
	h.closes[connID(c)] = err
	h.mu.Unlock()
}

// waitOpen returns what OnOpen saw of connection id.
func (h *edgeHandler) waitOpen(t *testing.T, id string) openInfo {
	t.Helper()
	var info openInfo
	waitFor(t, 5*time.Second, "OnOpen of "+id, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		var ok bool
		info, ok = h.opens[id]
		return ok
	})
	return info
}

// opened reports whether OnOpen ran for id.
func (h *edgeHandler) opened(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.opens[id]
	return ok
}

// closed reports whether OnClose ran for id.
func (h *edgeHandler) closed(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.closes[id]
	return ok
}

// waitClose returns OnClose's error for connection id.
func (h *edgeHandler) waitClose(t *testing.T, id string) error {
	t.Helper()
	var err error
	waitFor(t, 10*time.Second, "OnClose of "+id, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		var ok bool
		err, ok = h.closes[id]
		return ok
	})
	return err
}

// waitFlood returns connection id's flood once it is complete.
func (h *edgeHandler) waitFlood(t *testing.T, id string) *floodLog {
	t.Helper()
	var f *floodLog
	waitFor(t, 60*time.Second, "the flood of "+id, func() bool {
		h.mu.Lock()
		f = h.floods[id]
		h.mu.Unlock()
		return f != nil && f.complete()
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dups > 0 {
		t.Errorf("%d done callbacks ran twice", f.dups)
	}
	if f.calls != f.accepted {
		t.Errorf("%d done callbacks for %d accepted Sends", f.calls, f.accepted)
	}
	return f
}

// ---------------------------------------------------------------------------
// The well-behaved client

// pump keeps a well-behaved client busy with echoes on its own goroutine,
// paced so that it stays far below the rate limits the rows configure.
type pump struct {
	c      *client
	stop   chan struct{}
	done   chan struct{}
	echoes atomic.Int64
	err    error
}

const pumpPace = 150 * time.Millisecond

func startPump(c *client) *pump {
	p := &pump{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := range 100000 {
			msg := []byte("bystander " + strconv.Itoa(i))
			if _, err := c.conn.Write(encode(true, 0, ws.OpText, msg)); err != nil {
				p.err = fmt.Errorf("echo %d: write: %w", i, err)
				return
			}
			op, got, err := c.readMessage(readTimeout)
			if err != nil || op != ws.OpText || !bytes.Equal(got, msg) {
				p.err = fmt.Errorf("echo %d: got %s %q, %v", i, opName(op), got, err)
				return
			}
			p.echoes.Add(1)
			select {
			case <-p.stop:
				return
			case <-time.After(pumpPace):
			}
		}
	}()
	return p
}

// waitMore waits until n more echoes came back.
func (p *pump) waitMore(t *testing.T, n int64) {
	t.Helper()
	target := p.echoes.Load() + n
	waitFor(t, 10*time.Second, "the bystander's echoes", func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		return p.echoes.Load() >= target
	})
	select {
	case <-p.done: // p.err is final
		if p.err != nil {
			t.Fatalf("bystander: %v", p.err)
		}
	default:
	}
}

// finish stops the pump and requires that every echo came back.
func (p *pump) finish(t *testing.T) {
	t.Helper()
	close(p.stop)
	select {
	case <-p.done:
	case <-time.After(2 * readTimeout):
		t.Fatal("bystander pump stuck")
	}
	if p.err != nil {
		t.Fatalf("bystander: %v", p.err)
	}
	if p.echoes.Load() == 0 {
		t.Fatal("bystander got no echo")
	}
}

// ---------------------------------------------------------------------------
// The table

// edgeEnv is one row's server and shared state.
type edgeEnv struct {
	srv  *server.Server
	addr string
	h    *edgeHandler
	by   *pump
	// want counts the upgrade outcomes the row expects (the bystander's
	// 101 included).
	want map[string]uint64
	// gate and entered let a row hold the auth hook.
	gate    *releaser
	entered chan string
}

// expect adds n expected upgrades with outcome label.
func (x *edgeEnv) expect(label string, n int) { x.want[label] += uint64(n) }

// up runs one upgrade attempt against the row's server.
// upgradeOnceFreed retries an upgrade to target until the server has seen a
// connection close and has a slot again; until then every attempt must be
// refused with status and counted as result.
func (x *edgeEnv) upgradeOnceFreed(t *testing.T, target string, status int, result string) *client {
	t.Helper()
	for i := 0; ; i++ {
		res := x.up(t, hsReq{target: target})
		if res.status == 101 {
			x.expect("accepted", 1)
			return res.c
		}
		expectStatus(t, res, status, true, "")
		x.expect(result, 1)
		if i == 500 {
			t.Fatal("no slot after closing a connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (x *edgeEnv) up(t *testing.T, r hsReq) *hsResult {
	t.Helper()
	return handshake(t, x.addr, r)
}

// bystanderToken is the bearer token the auth rows accept.
const bystanderToken = "good"

// authByToken accepts ?token=good (identity "user:good"), holds ?token=slow
// on the gate and then accepts it (identity "user:slow"), rejects
// ?token=bad with 401, ?token=oops with a plain error and panics on
// ?token=panic.
func authByToken(x *edgeEnv) server.AuthFunc {
	return func(req *server.Request, _ net.Addr) (any, error) {
		switch tok := req.Query().Get("token"); tok {
		case bystanderToken:
			return "user:" + tok, nil
		case "slow":
			x.entered <- tok
			x.gate.wait()
			return "user:" + tok, nil
		case "bad":
			return nil, server.Reject(401, "bad token")
		case "redirect":
			return nil, server.Reject(302, "elsewhere")
		case "panic":
			panic("auth backend exploded")
		default:
			return nil, errors.New("secret detail: user store unreachable")
		}
	}
}

type edgeRow struct {
	name string
	opts func(x *edgeEnv) []server.Option
	play func(t *testing.T, x *edgeEnv)
}

// proxyV1 is a PROXY protocol version 1 header.
func proxyV1(src, dst netip.AddrPort) []byte {
	fam := "TCP4"
	if src.Addr().Is6() {
		fam = "TCP6"
	}
	return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", fam, src.Addr(), dst.Addr(), src.Port(), dst.Port())
}

// proxyV2 is a PROXY protocol version 2 header with the PROXY command over
// TCP (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt §2.2),
// with tlv appended as opaque TLV bytes.
func proxyV2(src, dst netip.AddrPort, tlv []byte) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21) // version 2, PROXY
	var addrs []byte
	if src.Addr().Is4() {
		b = append(b, 0x11) // AF_INET, STREAM
		s, d := src.Addr().As4(), dst.Addr().As4()
		addrs = append(append(addrs, s[:]...), d[:]...)
	} else {
		b = append(b, 0x21) // AF_INET6, STREAM
		s, d := src.Addr().As16(), dst.Addr().As16()
		addrs = append(append(addrs, s[:]...), d[:]...)
	}
	addrs = binary.BigEndian.AppendUint16(addrs, src.Port())
	addrs = binary.BigEndian.AppendUint16(addrs, dst.Port())
	addrs = append(addrs, tlv...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	return append(b, addrs...)
}

// proxyV2Local is a version 2 header with the LOCAL command (a proxy's own
// health check: the real endpoints count).
func proxyV2Local() []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	return append(b, 0x20, 0x00, 0x00, 0x00)
}

func hostOf(t *testing.T, addr string) string {
	t.Helper()
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("remote address %q: %v", addr, err)
	}
	return h
}

func edgeRows() []edgeRow {
	loop := netip.MustParsePrefix("127.0.0.1/32")
	return []edgeRow{
		{
			name: "origin",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithOrigins("https://good.example", "*.example.org")}
			},
			play: func(t *testing.T, x *edgeEnv) {
				cases := []struct {
					origin string
					status int
				}{
					{"https://good.example", 101},
					{"HTTPS://GOOD.EXAMPLE", 101}, // origins compare case-insensitively
					{"https://chat.example.org", 101},
					{"http://a.b.example.org:8080", 101}, // host patterns: any scheme and port
					{"", 101},                            // no Origin: not a browser
					{"https://evil.example", 403},
					{"http://good.example", 403}, // a full origin includes its scheme
					{"https://good.example:8443", 403},
					{"https://example.org", 403}, // *.example.org is subdomains only
					{"https://example.org.evil.com", 403},
					{"https://notexample.org", 403},
					{"null", 403},
				}
				for i, tc := range cases {
					var hdr []string
					if tc.origin != "" {
						hdr = append(hdr, "Origin: "+tc.origin)
					}
					res := x.up(t, hsReq{target: "/ws?id=o" + strconv.Itoa(i), header: hdr})
					if tc.status == 101 {
						echoOnce(upgraded(t, res), "hello from "+tc.origin)
						x.expect("accepted", 1)
					} else {
						expectStatus(t, res, tc.status, false, "origin")
						x.expect("origin", 1)
						if x.h.opened("o" + strconv.Itoa(i)) {
							t.Errorf("OnOpen ran for refused origin %q", tc.origin)
						}
					}
				}
			},
		},
		{
			name: "auth/reject-401",
			opts: func(x *edgeEnv) []server.Option { return []server.Option{server.WithAuth(authByToken(x))} },
			play: func(t *testing.T, x *edgeEnv) {
				res := x.up(t, hsReq{target: "/ws?id=bad&token=bad"})
				expectStatus(t, res, 401, false, "bad token")
				x.expect("auth", 1)
				// A status that is not an error is replaced by 403.
				res = x.up(t, hsReq{target: "/ws?id=redirect&token=redirect"})
				expectStatus(t, res, 403, false, "")
				x.expect("auth", 1)
				if x.h.opened("bad") || x.h.opened("redirect") {
					t.Error("OnOpen ran for a rejected upgrade")
				}
			},
		},
		{
			name: "auth/slow-off-loop",
			opts: func(x *edgeEnv) []server.Option {
				return []server.Option{server.WithAuth(authByToken(x)), server.WithEventLoops(1)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				// The hook blocks on a gate (a slow token service) until
				// the test has seen the bystander's echoes, which share
				// the server's only event loop: the hook must run off it.
				// A frame pipelined behind the request waits for the
				// verdict.
				type result struct {
					res *hsResult
					err error
				}
				got := make(chan result, 1)
				go func() {
					conn, err := dialFrom(x.addr, "", 0)
					if err != nil {
						got <- result{err: err}
						return
					}
					t.Cleanup(func() { conn.Close() })
					key := newKey()
					req := "GET /ws?id=slow&token=slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
						"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
					raw := append([]byte(req), encode(true, 0, ws.OpText, []byte("pipelined"))...)
					conn.SetDeadline(time.Now().Add(4 * readTimeout))
					if _, err := conn.Write(raw); err != nil {
						got <- result{err: err}
						return
					}
					br := bufio.NewReader(conn)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						got <- result{err: err}
						return
					}
					conn.SetDeadline(time.Time{})
					got <- result{res: &hsResult{status: resp.StatusCode, header: resp.Header, c: &client{t: t, conn: conn, br: br}}}
				}()
				recv(t, x.entered, readTimeout, "the auth hook to start")
				x.by.waitMore(t, 3)
				select {
				case r := <-got:
					t.Fatalf("upgrade answered while the auth hook was still running: %+v %v", r.res, r.err)
				default:
				}
				x.gate.release()
				r := recv(t, got, 2*readTimeout, "the upgrade response")
				if r.err != nil {
					t.Fatal(r.err)
				}
				c := upgraded(t, r.res)
				c.expectMessage(ws.OpText, []byte("pipelined"), readTimeout)
				x.expect("accepted", 1)
				if info := x.h.waitOpen(t, "slow"); info.identity != "user:slow" {
					t.Errorf("Identity() in OnOpen = %v, want user:slow", info.identity)
				}
				if info := x.h.waitOpen(t, "by"); info.identity != "user:"+bystanderToken {
					t.Errorf("bystander's Identity() = %v", info.identity)
				}
				echoOnce(c, "after auth")
			},
		},
		{
			name: "auth/plain-error-403",
			opts: func(x *edgeEnv) []server.Option { return []server.Option{server.WithAuth(authByToken(x))} },
			play: func(t *testing.T, x *edgeEnv) {
				res := x.up(t, hsReq{target: "/ws?id=oops&token=oops"})
				expectStatus(t, res, 403, false, "")
				if strings.Contains(res.body, "secret") {
					t.Errorf("the hook's error text reached the client: %q", res.body)
				}
				x.expect("auth", 1)
			},
		},
		{
			name: "auth/panic-500",
			opts: func(x *edgeEnv) []server.Option { return []server.Option{server.WithAuth(authByToken(x))} },
			play: func(t *testing.T, x *edgeEnv) {
				for range 3 { // the worker survives
					res := x.up(t, hsReq{target: "/ws?id=panic&token=panic"})
					expectStatus(t, res, 500, false, "")
					if strings.Contains(res.body, "exploded") {
						t.Errorf("the panic value reached the client: %q", res.body)
					}
					x.expect("auth", 1)
				}
			},
		},
		{
			name: "max-conns-per-ip",
			opts: func(*edgeEnv) []server.Option { return []server.Option{server.WithMaxConnsPerIP(3)} },
			play: func(t *testing.T, x *edgeEnv) {
				var held []*client
				for i := range 3 {
					held = append(held, upgraded(t, x.up(t, hsReq{target: "/ws?id=ip" + strconv.Itoa(i)})))
				}
				x.expect("accepted", 3)
				for range 2 {
					expectStatus(t, x.up(t, hsReq{}), 429, true, "")
					x.expect("ip_limit", 1)
				}
				// Another address has its own quota.
				echoOnce(upgraded(t, x.up(t, hsReq{from: "127.0.0.3"})), "other address")
				x.expect("accepted", 1)
				// Closing one frees a slot, once the server saw it close.
				held[0].closeNormally()
				c := x.upgradeOnceFreed(t, "/ws?id=again", 429, "ip_limit")
				echoOnce(c, "again")
				expectStatus(t, x.up(t, hsReq{}), 429, true, "")
				x.expect("ip_limit", 1)
			},
		},
		{
			name: "max-conns",
			opts: func(*edgeEnv) []server.Option { return []server.Option{server.WithMaxConns(3)} },
			play: func(t *testing.T, x *edgeEnv) {
				// The bystander holds one of the three.
				a := upgraded(t, x.up(t, hsReq{target: "/ws?id=a"}))
				b := upgraded(t, x.up(t, hsReq{target: "/ws?id=b"}))
				x.expect("accepted", 2)
				for range 3 {
					expectStatus(t, x.up(t, hsReq{from: "127.0.0.3"}), 503, true, "")
					x.expect("conn_limit", 1)
				}
				echoOnce(a, "a")
				b.closeNormally()
				c := x.upgradeOnceFreed(t, "/ws?id=c", 503, "conn_limit")
				echoOnce(c, "c")
				expectStatus(t, x.up(t, hsReq{}), 503, true, "")
				x.expect("conn_limit", 1)
			},
		},
		{
			name: "upgrade-rate",
			opts: func(*edgeEnv) []server.Option {
				// The rate limiter's refusals must not leak connection
				// slots: with a total limit of 8, the 101s stay possible.
				return []server.Option{server.WithUpgradeRate(2, 2), server.WithMaxConns(8)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				// Bursts of 5 concurrent upgrades against a bucket of 2
				// refilled at 2/s: refusals come at once unless a burst
				// takes seconds, so a few bursts are plenty.
				var accepted, refused int
				for round := 0; refused == 0 && round < 10; round++ {
					results := make(chan *hsResult, 5)
					errs := make(chan error, 5)
					for range 5 {
						go func() {
							res, err := tryHandshake(t, x.addr, hsReq{})
							if err != nil {
								errs <- err
								return
							}
							results <- res
						}()
					}
					for range 5 {
						select {
						case err := <-errs:
							t.Fatal(err)
						case res := <-results:
							switch res.status {
							case 101:
								accepted++
								res.c.conn.Close()
							case 503:
								refused++
								if res.header.Get("Retry-After") == "" {
									t.Error("503 without Retry-After")
								}
							default:
								t.Fatalf("status %d in an upgrade burst", res.status)
							}
						case <-time.After(2 * readTimeout):
							t.Fatal("upgrade burst stuck")
						}
					}
				}
				if refused == 0 {
					t.Fatalf("no 503 in 10 bursts of 5 upgrades at a rate of 2/s")
				}
				t.Logf("%d accepted, %d refused", accepted, refused)
				x.expect("accepted", accepted)
				x.expect("rate_limit", refused)
			},
		},
		{
			name: "head-too-large",
			opts: func(*edgeEnv) []server.Option { return nil },
			play: func(t *testing.T, x *edgeEnv) {
				res := x.up(t, hsReq{header: []string{"X-Filler: " + strings.Repeat("a", 9<<10)}})
				expectStatus(t, res, 431, false, "")
				x.expect("head_too_large", 1)
				// A head that never ends is refused once it passes the limit.
				r := httpExchange(t, x.addr, "GET /ws HTTP/1.1\r\nX-Endless: "+strings.Repeat("b", 9<<10), 0)
				if r.StatusCode != 431 {
					t.Fatalf("unterminated 9 KiB head: status %d, want 431", r.StatusCode)
				}
				x.expect("head_too_large", 1)
			},
		},
		{
			name: "slowloris",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithHandshakeTimeout(300 * time.Millisecond)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				// A head trickled one byte every 50 ms, never finished,
				// must be dropped after the handshake timeout: the timeout
				// bounds the whole upgrade, not the silence between bytes.
				conn := dialTCP(t, x.addr)
				readDone := make(chan []byte, 1)
				go func() {
					conn.SetReadDeadline(time.Now().Add(20 * time.Second))
					b, _ := io.ReadAll(conn)
					readDone <- b
				}()
				head := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Slow: " + strings.Repeat("z", 200)
				const maxBytes = 60 // 3 s: ten handshake timeouts
				var got []byte
				closed := false
			trickle:
				for i := 0; i < maxBytes; i++ {
					select {
					case got = <-readDone:
						closed = true
						break trickle
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := conn.Write([]byte{head[i]}); err != nil {
						closed = true
						break
					}
				}
				if !closed {
					t.Errorf("server still holds a connection that trickled %d head bytes over %v with a 300ms handshake timeout",
						maxBytes, maxBytes*50*time.Millisecond)
					// Silent now: the timeout applies at last.
					got = recv(t, readDone, 4*readTimeout, "the server to drop the silent connection")
				}
				if bytes.Contains(got, []byte(" 101 ")) {
					t.Errorf("slowloris got %q", got)
				}
				x.expect("timeout", 1)
			},
		},
		{
			name: "slowloris/silent",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithHandshakeTimeout(300 * time.Millisecond)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				// Half a head, then silence.
				conn := dialTCP(t, x.addr)
				conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n"))
				conn.SetReadDeadline(time.Now().Add(readTimeout))
				b, err := io.ReadAll(conn)
				if err != nil || len(b) != 0 {
					t.Fatalf("silent half head: read %q, %v; want the server to close", b, err)
				}
				x.expect("timeout", 1)
			},
		},
		{
			name: "inbound-message-rate",
			opts: func(*edgeEnv) []server.Option { return []server.Option{server.WithInboundRate(10, 0, 1)} },
			play: func(t *testing.T, x *edgeEnv) {
				c := upgraded(t, x.up(t, hsReq{target: "/ws?id=chatty"}))
				x.expect("accepted", 1)
				var burst []byte
				for i := range 50 {
					burst = append(burst, encode(true, 0, ws.OpText, []byte("m"+strconv.Itoa(i)))...)
				}
				c.mustWrite(burst)
				f := readUntilClose(t, c)
				code, reason := closeBody(f.payload)
				if code != 1008 || !strings.Contains(reason, "rate") {
					t.Fatalf("close %d %q, want 1008 naming the rate", code, reason)
				}
				c.finishClose(f, 1008)
				c.conn.Close() // the server lingers until the client closes
				if ce := asCloseError(t, x.h.waitClose(t, "chatty")); ce.Code != 1008 {
					t.Errorf("OnClose: %v", ce)
				}
				waitFor(t, readTimeout, "RateLimitCloses", func() bool { return x.srv.Stats().RateLimitCloses == 1 })
			},
		},
		{
			name: "inbound-byte-rate",
			opts: func(*edgeEnv) []server.Option { return []server.Option{server.WithInboundRate(0, 1000, 1)} },
			play: func(t *testing.T, x *edgeEnv) {
				c := upgraded(t, x.up(t, hsReq{target: "/ws?id=bulky"}))
				x.expect("accepted", 1)
				var burst []byte
				for range 10 {
					burst = append(burst, encode(true, 0, ws.OpBinary, randomBinary(500))...)
				}
				c.mustWrite(burst)
				f := readUntilClose(t, c)
				code, reason := closeBody(f.payload)
				if code != 1008 || !strings.Contains(reason, "rate") {
					t.Fatalf("close %d %q, want 1008 naming the rate", code, reason)
				}
				c.finishClose(f, 1008)
				waitFor(t, readTimeout, "RateLimitCloses", func() bool { return x.srv.Stats().RateLimitCloses == 1 })
			},
		},
		{
			name: "slow-consumer/close",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithMaxOutbound(1<<20, server.SlowClose)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				const n, size = 2000, 64 << 10
				c := upgraded(t, x.up(t, hsReq{target: "/ws?id=sloth", rcvbuf: 4096}))
				x.expect("accepted", 1)
				c.mustWrite(encode(true, 0, ws.OpText, fmt.Appendf(nil, "flood %d %d", n, size)))
				f := x.h.waitFlood(t, "sloth")
				ok, dropped, slow, other := f.tally()
				t.Logf("flood: %d Sends accepted (%v), done: %d ok, %d slow consumer", f.accepted, f.sendErr, ok, slow)
				// Sends racing with the close may all be accepted (their
				// callbacks report it); once Send fails, it is ErrClosed.
				if f.sendErr != nil && !errors.Is(f.sendErr, server.ErrClosed) {
					t.Errorf("Send accepted %d of %d messages, then %v; want ErrClosed once closed", f.accepted, n, f.sendErr)
				}
				// The close falls either while frames are still queued
				// (their callbacks report ErrSlowConsumer) or, when the
				// loop kept up with the Sends, between two of them (the
				// next Send is refused).
				if (slow == 0 && f.sendErr == nil) || dropped != 0 || other != 0 {
					t.Errorf("done callbacks: %d ok, %d ErrDropped, %d ErrSlowConsumer, %d other, Send error %v; want ErrSlowConsumer or a refused Send, nothing else",
						ok, dropped, slow, other, f.sendErr)
				}
				ce := asCloseError(t, x.h.waitClose(t, "sloth"))
				if ce.Code != 1008 || ce.Reason != "slow consumer" {
					t.Errorf("OnClose: %v, want 1008 slow consumer", ce)
				}
				// The client, reading at last, finds the connection closed.
				c.conn.SetReadDeadline(time.Now().Add(largeTimeout))
				nread, err := io.Copy(io.Discard, c.conn)
				if err != nil && !isClosedErr(err) {
					t.Errorf("after %d bytes: %v, want the connection closed", nread, err)
				}
				s := x.srv.Stats()
				if s.SlowConsumerCloses != 1 || s.Closes["1008"] != 1 {
					t.Errorf("SlowConsumerCloses %d, Closes %v", s.SlowConsumerCloses, s.Closes)
				}
			},
		},
		{
			name: "slow-consumer/drop",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithMaxOutbound(1<<20, server.SlowDrop)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				const n, size = 2000, 64 << 10
				c := upgraded(t, x.up(t, hsReq{target: "/ws?id=sloth", rcvbuf: 4096}))
				x.expect("accepted", 1)
				c.mustWrite(encode(true, 0, ws.OpText, fmt.Appendf(nil, "flood %d %d", n, size)))
				f := x.h.waitFlood(t, "sloth")
				ok, dropped, slow, other := f.tally()
				t.Logf("flood: %d ok, %d dropped", ok, dropped)
				if f.accepted != n || f.sendErr != nil {
					t.Errorf("Send accepted %d of %d messages (%v); the connection must stay open", f.accepted, n, f.sendErr)
				}
				if dropped == 0 || ok == 0 || slow != 0 || other != 0 {
					t.Errorf("done callbacks: %d ok, %d ErrDropped, %d ErrSlowConsumer, %d other; want some of each of the first two",
						ok, dropped, slow, other)
				}
				if got := x.srv.Stats().SlowConsumerDrops; got != uint64(dropped) {
					t.Errorf("Stats().SlowConsumerDrops = %d, want the %d ErrDropped callbacks", got, dropped)
				}
				// Exactly the messages reported sent arrive, in order.
				f.mu.Lock()
				var sent []int
				for seq := range n {
					if err, ok := f.results[seq]; ok && err == nil {
						sent = append(sent, seq)
					}
				}
				f.mu.Unlock()
				for i, want := range sent {
					fr, err := c.readFrame(readTimeout)
					if err != nil {
						t.Fatalf("reading message %d of %d sent: %v", i, len(sent), err)
					}
					if fr.op != ws.OpBinary || !fr.fin || len(fr.payload) != size {
						t.Fatalf("message %d: %s", i, fr)
					}
					if got := int(binary.BigEndian.Uint32(fr.payload)); got != want {
						t.Fatalf("message %d is #%d, want #%d (the next one reported sent)", i, got, want)
					}
				}
				// The connection is open and caught up.
				echoOnce(c, "still open")
				if x.h.closed("sloth") {
					t.Error("OnClose ran for a connection under SlowDrop")
				}
			},
		},
		{
			name: "subprotocols",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithSubprotocols("v2.chat", "v1.chat")}
			},
			play: func(t *testing.T, x *edgeEnv) {
				cases := []struct {
					offer []string
					want  string
				}{
					{[]string{"Sec-WebSocket-Protocol: v1.chat, v2.chat"}, "v1.chat"}, // the client's order
					{[]string{"Sec-WebSocket-Protocol: v2.chat, v1.chat"}, "v2.chat"},
					{[]string{"Sec-WebSocket-Protocol: mqtt, v2.chat"}, "v2.chat"},
					{[]string{"Sec-WebSocket-Protocol: mqtt", "Sec-WebSocket-Protocol: v1.chat"}, "v1.chat"},
					{[]string{"Sec-WebSocket-Protocol: mqtt, v3.chat"}, ""},
					{[]string{"Sec-WebSocket-Protocol: V1.CHAT"}, ""}, // tokens are case-sensitive
					{nil, ""},
				}
				for i, tc := range cases {
					id := "p" + strconv.Itoa(i)
					res := x.up(t, hsReq{target: "/ws?id=" + id, header: tc.offer})
					c := upgraded(t, res)
					x.expect("accepted", 1)
					if got := res.header.Values("Sec-WebSocket-Protocol"); (tc.want == "" && len(got) > 0) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
						t.Errorf("offer %q: response Sec-WebSocket-Protocol %q, want %q", tc.offer, got, tc.want)
					}
					if got := x.h.waitOpen(t, id).proto; got != tc.want {
						t.Errorf("offer %q: Subprotocol() = %q, want %q", tc.offer, got, tc.want)
					}
					echoOnce(c, "proto")
				}
			},
		},
		{
			name: "health",
			opts: func(*edgeEnv) []server.Option { return nil },
			play: func(t *testing.T, x *edgeEnv) {
				status, body := httpGet(t, x.addr, "/healthz")
				if status != "HTTP/1.1 200 OK" || body != "ok\n" {
					t.Errorf("/healthz: %q %q", status, body)
				}
				status, _ = httpGet(t, x.addr, "/healthz/x")
				if !strings.Contains(status, "426") {
					t.Errorf("/healthz/x: %q, want 426", status)
				}
			},
		},
		{
			name: "health/custom-path",
			opts: func(*edgeEnv) []server.Option { return []server.Option{server.WithHealthPath("/live")} },
			play: func(t *testing.T, x *edgeEnv) {
				for _, tc := range []struct{ path, status string }{
					{"/live", "HTTP/1.1 200 OK"},
					{"/live?probe=1", "HTTP/1.1 200 OK"},
					{"/healthz", "HTTP/1.1 426 Upgrade Required"},
				} {
					if status, _ := httpGet(t, x.addr, tc.path); status != tc.status {
						t.Errorf("%s: %q, want %q", tc.path, status, tc.status)
					}
				}
			},
		},
		{
			name: "proxy-protocol",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithTrustedProxies(loop), server.WithProxyProtocol(true)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				dst := netip.MustParseAddrPort("127.0.0.1:80")
				v6 := netip.MustParseAddrPort("[2001:db8::7]:7777")
				cases := []struct {
					name   string
					prefix []byte
					remote string // "" for 127.0.0.1:port
				}{
					{"v1", []byte("PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"), "203.0.113.7:5555"},
					{"v1-tcp6", proxyV1(v6, netip.MustParseAddrPort("[2001:db8::1]:80")), "[2001:db8::7]:7777"},
					{"v1-unknown", []byte("PROXY UNKNOWN\r\n"), ""},
					{"v2", proxyV2(netip.MustParseAddrPort("192.0.2.44:6000"), dst, nil), "192.0.2.44:6000"},
					{"v2-tcp6", proxyV2(v6, netip.MustParseAddrPort("[2001:db8::1]:80"), nil), "[2001:db8::7]:7777"},
					{"v2-tlv", proxyV2(netip.MustParseAddrPort("192.0.2.45:6001"), dst, []byte{0x04, 0x00, 0x02, 'h', 'i'}), "192.0.2.45:6001"},
					{"v2-local", proxyV2Local(), ""},
				}
				for _, tc := range cases {
					res := x.up(t, hsReq{target: "/ws?id=" + tc.name, prefix: tc.prefix})
					c := upgraded(t, res)
					x.expect("accepted", 1)
					got := x.h.waitOpen(t, tc.name).remote
					want := tc.remote
					if want == "" {
						want = c.conn.LocalAddr().String()
					}
					if got != want {
						t.Errorf("%s: RemoteAddr() = %s, want %s", tc.name, got, want)
					}
					echoOnce(c, tc.name)
				}
				// The header arriving a byte at a time, then the request.
				conn := dialTCP(t, x.addr)
				c := &client{t: t, conn: conn, br: bufio.NewReader(conn)}
				if err := c.writeChopped([]byte("PROXY TCP4 203.0.113.8 127.0.0.1 5556 80\r\n"), 1, time.Millisecond); err != nil {
					t.Fatal(err)
				}
				key := newKey()
				c.mustWrite([]byte(strings.Replace(upgradeRequest(x.addr, key), "/ws", "/ws?id=chopped", 1)))
				conn.SetReadDeadline(time.Now().Add(readTimeout))
				if resp, err := http.ReadResponse(c.br, nil); err != nil || resp.StatusCode != 101 {
					t.Fatalf("chopped PROXY header: %v %v", resp, err)
				}
				x.expect("accepted", 1)
				if got := x.h.waitOpen(t, "chopped").remote; got != "203.0.113.8:5556" {
					t.Errorf("chopped PROXY header: RemoteAddr() = %s", got)
				}
				echoOnce(c, "chopped")

				for _, bad := range []struct{ name, prefix string }{
					{"no-header", ""},
					{"garbage", "HELLO THERE\r\n"},
					{"v1-bad-addr", "PROXY TCP4 203.0.113.999 127.0.0.1 5555 80\r\n"},
					{"v1-bad-port", "PROXY TCP4 203.0.113.7 127.0.0.1 65536 80\r\n"},
					{"v1-no-crlf", "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\n"},
					{"v2-udp", string(append(proxyV2(netip.MustParseAddrPort("192.0.2.1:1"), dst, nil)[:13:13], 0x12, 0, 12))},
				} {
					res := x.up(t, hsReq{prefix: []byte(bad.prefix)})
					if res.status != 400 {
						t.Errorf("%s: status %d, want 400", bad.name, res.status)
					}
					x.expect("proxy", 1)
				}
			},
		},
		{
			name: "proxy-protocol/untrusted-peer",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")), server.WithProxyProtocol(true)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				// Not from a proxy: the header is not believed (it is not
				// HTTP either), and a plain upgrade works.
				res := x.up(t, hsReq{prefix: []byte("PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n")})
				if res.status < 400 || res.status > 499 {
					t.Errorf("PROXY header from an untrusted peer: status %d, want a 4xx", res.status)
				}
				x.expect("bad_request", 1)
				c := upgraded(t, x.up(t, hsReq{target: "/ws?id=direct"}))
				x.expect("accepted", 1)
				if got := x.h.waitOpen(t, "direct").remote; got != c.conn.LocalAddr().String() {
					t.Errorf("RemoteAddr() = %s, want %s", got, c.conn.LocalAddr())
				}
			},
		},
		{
			name: "forwarded-for",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithTrustedProxies(loop), server.WithForwardedFor(true)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				cases := []struct {
					name   string
					from   string
					header []string
					want   string // IP; "" for the peer's own
				}{
					{"single", "", []string{"X-Forwarded-For: 198.51.100.9"}, "198.51.100.9"},
					{"chain", "", []string{"X-Forwarded-For: 192.0.2.1, 198.51.100.9"}, "198.51.100.9"},
					{"through-trusted", "", []string{"X-Forwarded-For: 198.51.100.9, 127.0.0.1"}, "198.51.100.9"},
					{"two-fields", "", []string{"X-Forwarded-For: 192.0.2.1", "X-Forwarded-For: 198.51.100.10"}, "198.51.100.10"},
					{"garbage", "", []string{"X-Forwarded-For: not-an-ip"}, ""},
					{"none", "", nil, ""},
					{"untrusted-peer", bystanderIP, []string{"X-Forwarded-For: 198.51.100.9"}, ""},
				}
				for _, tc := range cases {
					res := x.up(t, hsReq{target: "/ws?id=" + tc.name, from: tc.from, header: tc.header})
					c := upgraded(t, res)
					x.expect("accepted", 1)
					want := tc.want
					if want == "" {
						want = hostOf(t, c.conn.LocalAddr().String())
					}
					if got := hostOf(t, x.h.waitOpen(t, tc.name).remote); got != want {
						t.Errorf("%s: RemoteAddr() IP %s, want %s", tc.name, got, want)
					}
				}
			},
		},
		{
			name: "forwarded-for/untrusted-list",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")), server.WithForwardedFor(true)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				res := x.up(t, hsReq{target: "/ws?id=spoof", header: []string{"X-Forwarded-For: 198.51.100.9"}})
				c := upgraded(t, res)
				x.expect("accepted", 1)
				if got := x.h.waitOpen(t, "spoof").remote; got != c.conn.LocalAddr().String() {
					t.Errorf("RemoteAddr() = %s, want the peer %s", got, c.conn.LocalAddr())
				}
			},
		},
		{
			name: "per-ip/forwarded-for",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithTrustedProxies(loop), server.WithForwardedFor(true), server.WithMaxConnsPerIP(1)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				xff := func(ip string) []string { return []string{"X-Forwarded-For: " + ip} }
				a := upgraded(t, x.up(t, hsReq{target: "/ws?id=a", header: xff("198.51.100.9")}))
				expectStatus(t, x.up(t, hsReq{header: xff("198.51.100.9")}), 429, true, "")
				upgraded(t, x.up(t, hsReq{header: xff("198.51.100.10")}))
				upgraded(t, x.up(t, hsReq{})) // the proxy's own address
				expectStatus(t, x.up(t, hsReq{}), 429, true, "")
				x.expect("accepted", 3)
				x.expect("ip_limit", 2)
				// The forwarded address's slot is given back on close.
				a.closeNormally()
				x.h.waitClose(t, "a")
				for i := 0; ; i++ {
					res := x.up(t, hsReq{header: xff("198.51.100.9")})
					if res.status == 101 {
						x.expect("accepted", 1)
						break
					}
					expectStatus(t, res, 429, true, "")
					x.expect("ip_limit", 1)
					if i == 500 {
						t.Fatal("the forwarded address's slot was not released")
					}
					time.Sleep(10 * time.Millisecond)
				}
			},
		},
		{
			name: "per-ip/proxy-protocol",
			opts: func(*edgeEnv) []server.Option {
				return []server.Option{server.WithTrustedProxies(loop), server.WithProxyProtocol(true), server.WithMaxConnsPerIP(1)}
			},
			play: func(t *testing.T, x *edgeEnv) {
				v1 := func(ip string) []byte { return []byte("PROXY TCP4 " + ip + " 127.0.0.1 5555 80\r\n") }
				a := upgraded(t, x.up(t, hsReq{target: "/ws?id=a", prefix: v1("203.0.113.7")}))
				expectStatus(t, x.up(t, hsReq{prefix: v1("203.0.113.7")}), 429, true, "")
				upgraded(t, x.up(t, hsReq{prefix: v1("203.0.113.8")}))
				upgraded(t, x.up(t, hsReq{prefix: proxyV2(netip.MustParseAddrPort("203.0.113.9:1"), netip.MustParseAddrPort("127.0.0.1:80"), nil)}))
				x.expect("accepted", 3)
				x.expect("ip_limit", 1)
				a.closeNormally()
				x.h.waitClose(t, "a")
				for i := 0; ; i++ {
					res := x.up(t, hsReq{prefix: v1("203.0.113.7")})
					if res.status == 101 {
						x.expect("accepted", 1)
						break
					}
					expectStatus(t, res, 429, true, "")
					x.expect("ip_limit", 1)
					if i == 500 {
						t.Fatal("the PROXY address's slot was not released")
					}
					time.Sleep(10 * time.Millisecond)
				}
			},
		},
	}
}

// TestEdgeHostile plays one hostile client per row against a server
// configured for it, while a well-behaved client on the same server keeps
// exchanging echoes; each row checks the HTTP status or close code the
// hostile client gets and the server's upgrade counters.
func TestEdgeHostile(t *testing.T) {
	if c, err := dialFrom("127.0.0.1:1", bystanderIP, 0); c != nil {
		c.Close()
	} else if errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Skipf("cannot connect from %s: %v", bystanderIP, err)
	}
	for _, row := range edgeRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			x := &edgeEnv{h: newEdgeHandler(), want: map[string]uint64{"accepted": 1}, entered: make(chan string, 1)}
			x.gate = newReleaser(t)
			x.srv, x.addr = startAPI(t, x.h, row.opts(x)...)
			by := upgraded(t, handshake(t, x.addr, hsReq{target: "/ws?id=by&token=" + bystanderToken, from: bystanderIP}))
			echoOnce(by, "bystander hello")
			x.by = startPump(by)
			row.play(t, x)
			x.by.waitMore(t, 1)
			x.by.finish(t)
			echoOnce(by, "bystander bye")
			expectUpgrades(t, x.srv, x.want)
		})
	}
}

// TestEdgeHealthDraining: /healthz answers 503 while Shutdown waits for a
// client that does not answer its close frame, and upgrades are refused.
func TestEdgeHealthDraining(t *testing.T) {
	h := newEdgeHandler()
	srv, addr := startAPI(t, h, server.WithCloseTimeout(10*time.Second))
	holder := upgraded(t, handshake(t, addr, hsReq{target: "/ws?id=holder"}))
	echoOnce(holder, "before")
	if status, _ := httpGet(t, addr, "/healthz"); status != "HTTP/1.1 200 OK" {
		t.Fatalf("/healthz while serving: %q", status)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	// The holder gets 1001 and keeps the connection open without answering.
	f := holder.mustReadFrame(readTimeout)
	if code, _ := closeBody(f.payload); f.op != ws.OpClose || code != 1001 {
		t.Fatalf("expected close 1001, got %s", f)
	}
	if !srv.Draining() {
		t.Error("Draining() = false during Shutdown")
	}
	status, _ := httpGet(t, addr, "/healthz")
	if status != "HTTP/1.1 503 Service Unavailable" {
		t.Errorf("/healthz while draining: %q, want 503", status)
	}
	res := handshake(t, addr, hsReq{})
	expectStatus(t, res, 503, true, "")
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a connection was still closing", err)
	default:
	}
	holder.mustWrite(encode(true, 0, ws.OpClose, closePayload(1001, "")))
	holder.expectEOF()
	if err := recv(t, done, 15*time.Second, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ce := asCloseError(t, h.waitClose(t, "holder")); ce.Code != 1001 {
		t.Errorf("OnClose: %v", ce)
	}
	// Only the upgrade is an upgrade; health checks are not counted.
	got := upgradeCounts(srv.Stats())
	if got["draining"] != 1 || got["accepted"] != 1 {
		t.Errorf("Stats().Upgrades = %v, want accepted 1 and draining 1 (the health checks are not upgrades)", got)
	}
}

// TestEdgeBurstToFastReader: the outbound cap bounds what is queued for a
// connection whatever its reader's speed, since Send never blocks. A
// handler's burst that stays under the cap reaches a client that reads
// everything, every message, under either policy; a burst far over it
// (125 MiB produced at memory speed while loopback drains far slower) trips
// the policy even for a fast reader: a producer that sends more than the
// cap at once must pace itself on the completion callbacks.
func TestEdgeBurstToFastReader(t *testing.T) {
	const size = 64 << 10
	for _, tc := range []struct {
		name   string
		n      int
		policy server.SlowConsumerPolicy
	}{
		{"under cap/close", 48, server.SlowClose}, // 3 MiB against the default 4 MiB
		{"under cap/drop", 48, server.SlowDrop},
		{"over cap/close", 2000, server.SlowClose},
		{"over cap/drop", 2000, server.SlowDrop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newEdgeHandler()
			_, addr := startAPI(t, h, server.WithMaxOutbound(0, tc.policy))
			c := upgraded(t, handshake(t, addr, hsReq{target: "/ws?id=fast"}))
			got := make(chan error, 1)
			go func() {
				for i := 0; ; i++ {
					f, err := c.readFrame(largeTimeout)
					if err != nil {
						got <- fmt.Errorf("message %d: %w", i, err)
						return
					}
					if f.op == ws.OpClose {
						got <- fmt.Errorf("close frame after %d messages: %s", i, f)
						return
					}
					if f.op != ws.OpBinary || len(f.payload) != size {
						got <- fmt.Errorf("message %d: %s", i, f)
						return
					}
					if i == tc.n-1 {
						got <- nil
						return
					}
				}
			}()
			c.mustWrite(encode(true, 0, ws.OpText, fmt.Appendf(nil, "flood %d %d", tc.n, size)))
			f := h.waitFlood(t, "fast")
			ok, dropped, slow, other := f.tally()
			switch {
			case tc.n == 48:
				if ok != tc.n {
					t.Fatalf("done callbacks: %d ok, %d ErrDropped, %d ErrSlowConsumer, %d other; want all %d ok", ok, dropped, slow, other, tc.n)
				}
				if err := recv(t, got, 2*largeTimeout, "the client's reads"); err != nil {
					t.Fatalf("client: %v", err)
				}
				echoOnce(c, "still open")
			case tc.policy == server.SlowClose:
				// Sends after the close return ErrClosed and get no callback.
				if slow == 0 || other != 0 || dropped != 0 {
					t.Fatalf("done callbacks: %d ok, %d ErrDropped, %d ErrSlowConsumer, %d other; want ErrSlowConsumer for those queued but not sent", ok, dropped, slow, other)
				}
			default:
				if dropped == 0 || slow != 0 || other != 0 || ok+dropped != tc.n {
					t.Fatalf("done callbacks: %d ok, %d ErrDropped, %d ErrSlowConsumer, %d other; want ErrDropped for those not sent", ok, dropped, slow, other)
				}
			}
		})
	}
}

// TestEdgeSlowConsumerMemory floods many clients that never read and
// checks that what the server holds for them stays within the outbound cap:
// per connection, gnet's outbound buffer plus the frames queued by Send,
// against 2000 x 64 KiB = 125 MiB sent to each.
func TestEdgeSlowConsumerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("floods 200 connections")
	}
	const (
		clients = 200
		size    = 64 << 10
		outCap  = 256 << 10
	)
	// Each client is sent 125 MiB. Under the race detector, paced Sends
	// take ten times as long; 8 MiB still outruns the socket buffers
	// (about 3 MiB per client) and the cap.
	messages := 2000
	if raceEnabled() {
		messages = 125
	}
	for _, policy := range []struct {
		name   string
		flood  string
		policy server.SlowConsumerPolicy
	}{
		// A handler sending flat out: the backlog is in the Send queue.
		{"burst/drop", "leanflood", server.SlowDrop},
		{"burst/close", "leanflood", server.SlowClose},
		// A handler waiting for each Send's callback: the backlog is in
		// gnet's outbound buffer, behind the full socket buffers.
		{"paced/drop", "paced", server.SlowDrop},
		{"paced/close", "paced", server.SlowClose},
	} {
		t.Run(policy.name, func(t *testing.T) {
			h := newEdgeHandler()
			// No heartbeats: the clients never read, so never answer pings.
			srv, addr := startAPI(t, h, server.WithMaxOutbound(outCap, policy.policy), server.WithPingInterval(-1))
			var cs []*client
			for i := range clients {
				res := handshake(t, addr, hsReq{target: "/ws?id=m" + strconv.Itoa(i), rcvbuf: 4096})
				cs = append(cs, upgraded(t, res))
			}
			// Measured from here: the clients' own buffers do not count.
			base := heapInUseAfterGC()
			// The gauge is sampled while the floods run.
			var peakOut atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					if o := srv.Stats().OutboundBytes; o > peakOut.Load() {
						peakOut.Store(o)
					}
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}()
			for _, c := range cs {
				c.mustWrite(encode(true, 0, ws.OpText, fmt.Appendf(nil, "%s %d %d", policy.flood, messages, size)))
			}
			var ok, dropped, slow, accepted int
			for i := range clients {
				f := h.waitFlood(t, "m"+strconv.Itoa(i))
				o, d, s, _ := f.tally()
				ok, dropped, slow, accepted = ok+o, dropped+d, slow+s, accepted+f.accepted
			}
			// Let a sweep record gnet's buffers after the floods.
			time.Sleep(1500 * time.Millisecond)
			close(stop)
			<-sampled
			if o := srv.Stats().OutboundBytes; o > peakOut.Load() {
				peakOut.Store(o)
			}
			held := heapInUseAfterGC()
			grown := int64(held) - int64(base)
			// Per connection, the policy keeps gnet's outbound buffer
			// within the cap plus the message that crossed it; frames
			// that Send queued before the loop saw the backlog (Send
			// refuses more than the cap plus one message) may wait
			// besides, so the gauge stays within 2 x (cap + message).
			// gnet keeps buffered frames in power-of-two slices (a
			// 64 KiB frame with its header takes a 128 KiB slice), so
			// cap + message of frames take up to twice that in heap.
			perConn := int64(outCap + size + 14)
			outBound := clients * 2 * perConn
			heapBound := clients*2*perConn + 32<<20
			t.Logf("%s: %d accepted Sends, %d written, %d dropped, %d slow-consumer; heap %+.1f MiB (bound %.1f MiB, %.1f KiB per client); OutboundBytes peak %.1f MiB (bound %.1f MiB)",
				policy.name, accepted, ok, dropped, slow, float64(grown)/(1<<20), float64(heapBound)/(1<<20),
				float64(grown)/clients/1024, float64(peakOut.Load())/(1<<20), float64(outBound)/(1<<20))
			if grown > heapBound {
				t.Errorf("heap grew by %d bytes for %d non-reading clients, bound %d", grown, clients, heapBound)
			}
			if p := peakOut.Load(); p > outBound {
				t.Errorf("Stats().OutboundBytes reached %d, bound %d", p, outBound)
			}
			if policy.policy == server.SlowDrop && (dropped == 0 || srv.Stats().SlowConsumerDrops != uint64(dropped)) {
				t.Errorf("%d ErrDropped callbacks, SlowConsumerDrops %d", dropped, srv.Stats().SlowConsumerDrops)
			}
			if policy.policy == server.SlowClose && srv.Stats().SlowConsumerCloses != clients {
				t.Errorf("SlowConsumerCloses %d, want %d", srv.Stats().SlowConsumerCloses, clients)
			}
			for _, c := range cs {
				c.conn.Close()
			}
		})
	}
}

// heapInUseAfterGC is HeapInuse after collecting twice (sync.Pools keep
// their contents across one collection).
func heapInUseAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
