package server_test

// Tests of the public API's documented contracts (server/*.go), driven over
// loopback with the raw client of conformance_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/server"
)

// ---------------------------------------------------------------------------
// Helpers

// startAPI starts a server for h on a loopback port; Shutdown runs at cleanup.
// Cleanups registered after this call (client sockets, handler releases) run
// before the Shutdown.
func startAPI(t testing.TB, h server.Handler, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	srv := server.New(h, opts...)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("server start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, srv.Addr()
}

// releaser is a gate that blocked handlers wait on. It is opened at cleanup
// at the latest, so that Shutdown never waits for a handler stuck on it.
type releaser struct {
	ch   chan struct{}
	once sync.Once
}

func newReleaser(t *testing.T) *releaser {
	r := &releaser{ch: make(chan struct{})}
	t.Cleanup(r.release)
	return r
}

func (r *releaser) release() { r.once.Do(func() { close(r.ch) }) }

// wait blocks until release, or 10 s at most.
func (r *releaser) wait() {
	select {
	case <-r.ch:
	case <-time.After(10 * time.Second):
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recv receives from ch within d.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
	var zero T
	return zero
}

// dialRequest upgrades with a custom request target and extra header lines.
func dialRequest(t *testing.T, addr, target string, extra ...string) *client {
	t.Helper()
	conn := dialTCP(t, addr)
	key := newKey()
	req := "GET " + target + " HTTP/1.1\r\n" +
		"Host: " + addr + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	req += "\r\n"
	conn.SetDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatalf("write upgrade request: %v", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		t.Fatalf("upgrade: %s, accept %q", resp.Status, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	conn.SetDeadline(time.Time{})
	return &client{t: t, conn: conn, br: br, autoPong: true}
}

// goClient wraps a connection from tryDial for use off the test goroutine:
// only the error-returning methods (write, readFrame, readMessage) may be
// used on it.
func goClient(t *testing.T, rc *rawConn) *client {
	return &client{t: t, conn: rc.Conn, br: rc.br}
}

// closeFrom checks that f is a close frame with code and reason.
func closeFrom(t *testing.T, f frame, code int, reason string) {
	t.Helper()
	gotCode, gotReason := closeBody(f.payload)
	if f.op != ws.OpClose || gotCode != code || gotReason != reason {
		t.Fatalf("expected close %d %q, got %s", code, reason, f)
	}
}

// asCloseError unwraps err into a *server.CloseError or fails.
func asCloseError(t *testing.T, err error) *server.CloseError {
	t.Helper()
	var ce *server.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("OnClose err = %T %v, want *server.CloseError", err, err)
	}
	return ce
}

// closeLog records OnClose errors by the peer's address (the client's
// local address).
type closeLog struct {
	mu   sync.Mutex
	errs map[string][]error
}

func (l *closeLog) add(c *server.Conn, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errs == nil {
		l.errs = make(map[string][]error)
	}
	k := c.RemoteAddr().String()
	l.errs[k] = append(l.errs[k], err)
}

// wait returns the OnClose error of the connection of cl, requiring that
// OnClose ran exactly once.
func (l *closeLog) wait(t *testing.T, cl *client) error {
	t.Helper()
	k := cl.conn.LocalAddr().String()
	var got []error
	waitFor(t, 5*time.Second, "OnClose of "+k, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		got = slices.Clone(l.errs[k])
		return len(got) > 0
	})
	time.Sleep(20 * time.Millisecond) // a second OnClose would show up here
	l.mu.Lock()
	got = slices.Clone(l.errs[k])
	l.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("OnClose ran %d times for %s: %v", len(got), k, got)
	}
	return got[0]
}

// ---------------------------------------------------------------------------
// 1. Send completion callbacks

func TestAPISendCompletion(t *testing.T) {
	type result struct {
		sendErr, closeErr, close2Err error
		sent, rejected               int
	}
	var (
		results = make(chan result, 4)
		doneErr = make(chan error, 4)
		calls   atomic.Int32 // done calls of the "send" and "close-send" cases
		// flood case: one counter per Send, appended by the handler
		floodCalls []*atomic.Int32
		floodErrs  atomic.Int32
		flooding   = make(chan struct{}, 1)
		vanished   = make(chan struct{})
		closes     closeLog
	)
	payload := bytes.Repeat([]byte("x"), 1024)
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) {
			switch string(m.Data) {
			case "send":
				err := c.Send(server.Text, []byte("reply"), func(err error) {
					calls.Add(1)
					doneErr <- err
				})
				results <- result{sendErr: err}
			case "close-send":
				cerr := c.Close(server.StatusNormalClosure, "closing")
				serr := c.Send(server.Text, []byte("late"), func(error) { calls.Add(1) })
				c2 := c.Close(server.StatusNormalClosure, "again")
				results <- result{sendErr: serr, closeErr: cerr, close2Err: c2}
			case "flood":
				// Queue sends, let the peer vanish, and keep sending until
				// Send refuses (3 s at most).
				var r result
				deadline := time.Now().Add(3 * time.Second)
				for i := 0; time.Now().Before(deadline); i++ {
					n := new(atomic.Int32)
					floodCalls = append(floodCalls, n)
					err := c.Send(server.Binary, payload, func(err error) {
						n.Add(1)
						if err != nil {
							floodErrs.Add(1)
						}
					})
					if err != nil {
						r.sendErr = err
						r.rejected++
						break
					}
					r.sent++
					switch {
					case i == 100:
						flooding <- struct{}{}
						select {
						case <-vanished:
						case <-time.After(10 * time.Second):
						}
					case i > 100 && i%64 == 0:
						time.Sleep(50 * time.Microsecond) // bound the backlog
					}
				}
				results <- r
			}
		},
		Closed: closes.add,
	}
	_, addr := startAPI(t, h)

	t.Run("done(nil) after send", func(t *testing.T) {
		calls.Store(0)
		c := dial(t, addr)
		c.mustWrite(encode(true, 0, ws.OpText, []byte("send")))
		c.expectMessage(ws.OpText, []byte("reply"), readTimeout)
		if r := recv(t, results, readTimeout, "handler result"); r.sendErr != nil {
			t.Fatalf("Send returned %v, want nil", r.sendErr)
		}
		if err := recv(t, doneErr, readTimeout, "done callback"); err != nil {
			t.Fatalf("done(%v), want done(nil)", err)
		}
		c.closeNormally()
		closes.wait(t, c)
		if n := calls.Load(); n != 1 {
			t.Fatalf("done called %d times, want 1", n)
		}
	})

	t.Run("send after close", func(t *testing.T) {
		calls.Store(0)
		c := dial(t, addr)
		c.mustWrite(encode(true, 0, ws.OpText, []byte("close-send")))
		f := c.mustReadFrame(readTimeout)
		closeFrom(t, f, 1000, "closing")
		r := recv(t, results, readTimeout, "handler result")
		if r.closeErr != nil {
			t.Fatalf("Close returned %v, want nil", r.closeErr)
		}
		if !errors.Is(r.sendErr, server.ErrClosed) {
			t.Fatalf("Send after Close returned %v, want ErrClosed", r.sendErr)
		}
		if !errors.Is(r.close2Err, server.ErrClosed) {
			t.Fatalf("second Close returned %v, want ErrClosed", r.close2Err)
		}
		c.finishClose(f, 1000)
		closes.wait(t, c)
		if n := calls.Load(); n != 0 {
			t.Fatalf("done of a refused Send called %d times, want 0", n)
		}
	})

	t.Run("peer vanishes", func(t *testing.T) {
		c := dial(t, addr)
		c.mustWrite(encode(true, 0, ws.OpText, []byte("flood")))
		// The first frame shows the sends have started; then the peer
		// vanishes with a reset, with many frames queued behind it.
		c.mustReadFrame(readTimeout)
		recv(t, flooding, readTimeout, "the first sends")
		if tc, ok := c.conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.conn.Close()
		close(vanished)
		r := recv(t, results, readTimeout, "handler result")
		if r.rejected == 0 {
			t.Fatalf("Send never failed after the peer vanished (%d sends)", r.sent)
		}
		if !errors.Is(r.sendErr, server.ErrClosed) {
			t.Fatalf("Send after the peer vanished returned %v, want ErrClosed", r.sendErr)
		}
		closes.wait(t, c)
		total := func() (sum int, dup int) {
			for i := range r.sent + r.rejected {
				n := int(floodCalls[i].Load())
				sum += n
				if n > 1 {
					dup++
				}
			}
			return
		}
		waitFor(t, 5*time.Second, fmt.Sprintf("done of all %d accepted sends", r.sent), func() bool {
			sum, _ := total()
			return sum >= r.sent
		})
		time.Sleep(20 * time.Millisecond)
		sum, dup := total()
		for i := range r.sent {
			if n := floodCalls[i].Load(); n != 1 {
				t.Errorf("done of send #%d called %d times, want 1", i, n)
				break
			}
		}
		if n := floodCalls[r.sent].Load(); n != 0 {
			t.Errorf("done of the refused send called %d times, want 0", n)
		}
		if dup > 0 || sum != r.sent {
			t.Fatalf("%d accepted sends, %d done calls, %d sends called back more than once", r.sent, sum, dup)
		}
		t.Logf("%d sends accepted (%d done with an error), then Send returned %v", r.sent, floodErrs.Load(), r.sendErr)
	})
}

// ---------------------------------------------------------------------------
// 2. Conn.Close from OnMessage

func TestAPIConnClose(t *testing.T) {
	const closeTimeout = 800 * time.Millisecond
	type result struct{ closeErr, sendErr error }
	results := make(chan result, 2)
	var closes closeLog
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) {
			if string(m.Data) != "close me" {
				_ = c.Send(m.Type, m.Data, nil)
				return
			}
			var r result
			r.closeErr = c.Close(4000, "bye now")
			r.sendErr = c.Send(server.Text, []byte("after close"), nil)
			results <- r
		},
		Closed: closes.add,
	}
	_, addr := startAPI(t, h, server.WithCloseTimeout(closeTimeout))

	for _, answer := range []bool{true, false} {
		name := "client answers"
		if !answer {
			name = "client never answers"
		}
		t.Run(name, func(t *testing.T) {
			c := dial(t, addr)
			c.mustWrite(encode(true, 0, ws.OpText, []byte("hello")))
			c.expectMessage(ws.OpText, []byte("hello"), readTimeout)
			c.mustWrite(encode(true, 0, ws.OpText, []byte("close me")))
			f := c.mustReadFrame(readTimeout)
			start := time.Now()
			closeFrom(t, f, 4000, "bye now")
			r := recv(t, results, readTimeout, "handler result")
			if r.closeErr != nil {
				t.Fatalf("Close returned %v", r.closeErr)
			}
			if !errors.Is(r.sendErr, server.ErrClosed) {
				t.Fatalf("Send after Close returned %v, want ErrClosed", r.sendErr)
			}
			if answer {
				c.mustWrite(encode(true, 0, ws.OpClose, closePayload(4000, "")))
			}
			c.expectEOF()
			elapsed := time.Since(start)
			if answer && elapsed > closeTimeout/4 {
				t.Fatalf("TCP dropped %v after the client's close reply, want at once", elapsed)
			}
			// The server's timers tick every 100 ms, so allow some slack.
			if !answer && (elapsed < closeTimeout-300*time.Millisecond || elapsed > closeTimeout+2*time.Second) {
				t.Fatalf("TCP dropped %v after the close frame, want about the close timeout %v", elapsed, closeTimeout)
			}
			err := closes.wait(t, c)
			t.Logf("TCP dropped after %v; OnClose: %v", elapsed, err)
		})
	}
}

// ---------------------------------------------------------------------------
// 3. Handler panics

func TestAPIHandlerPanic(t *testing.T) {
	var closes closeLog
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) {
			if string(m.Data) == "panic" {
				panic("handler bug")
			}
			_ = c.Send(m.Type, m.Data, nil)
		},
		Closed: closes.add,
	}
	_, addr := startAPI(t, h, server.WithWorkers(2))

	bystander := dial(t, addr)
	bystander.mustWrite(encode(true, 0, ws.OpText, []byte("one")))
	bystander.expectMessage(ws.OpText, []byte("one"), readTimeout)

	victim := dial(t, addr)
	victim.mustWrite(encode(true, 0, ws.OpText, []byte("panic")))
	victim.expectClose(1011)
	err := closes.wait(t, victim)
	if ce := asCloseError(t, err); ce.Code != 1011 {
		t.Fatalf("OnClose after the panic reported %v, want the 1011 the server sent", err)
	}

	// The other connection and new ones are still served, on all workers.
	bystander.mustWrite(encode(true, 0, ws.OpText, []byte("two")))
	bystander.expectMessage(ws.OpText, []byte("two"), readTimeout)
	for range 3 {
		assertAlive(t, addr)
	}
	bystander.closeNormally()
}

// ---------------------------------------------------------------------------
// 4. Plain HTTP on the WebSocket port

// rawHTTP sends req and reads the whole response until the server closes.
func rawHTTP(t *testing.T, addr, req string) (status string, header map[string]string, body string) {
	t.Helper()
	conn := dialTCP(t, addr)
	conn.SetDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read response (the server must close after it): %v; got %q", err, raw)
	}
	head, body, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok {
		t.Fatalf("response without end of head: %q", raw)
	}
	lines := strings.Split(head, "\r\n")
	header = make(map[string]string)
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		header[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return lines[0], header, body
}

func TestAPIHTTPHandler(t *testing.T) {
	hook := func(req *server.Request) server.HTTPResponse {
		if req.Method() == "GET" && req.Path() == "/status" {
			return server.HTTPResponse{Status: 200, Body: []byte("fine")}
		}
		return server.HTTPResponse{Status: 404, Body: []byte("no such page")}
	}
	_, hooked := startAPI(t, server.Echo(), server.WithHTTPHandler(hook))
	_, plain := startAPI(t, server.Echo())

	get := func(addr, target string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: api-test\r\n\r\n"
	}
	cases := []struct {
		name       string
		addr, path string
		status     string
		body       string
		header     map[string]string
	}{
		{"hook /status", hooked, "/status", "HTTP/1.1 200 OK", "fine", nil},
		{"built-in /healthz", hooked, "/healthz", "HTTP/1.1 200 OK", "ok\n", nil},
		{"hook other path", hooked, "/nope", "HTTP/1.1 404 Not Found", "no such page", nil},
		{"no hook", plain, "/", "HTTP/1.1 426 Upgrade Required", "", map[string]string{
			"upgrade": "websocket", "sec-websocket-version": "13",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, header, body := rawHTTP(t, tc.addr, get(tc.addr, tc.path))
			if status != tc.status {
				t.Errorf("status line %q, want %q", status, tc.status)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if cl := header["content-length"]; cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %q for a %d-byte body", cl, len(body))
			}
			if !strings.EqualFold(header["connection"], "close") {
				t.Errorf("Connection %q, want close", header["connection"])
			}
			for k, v := range tc.header {
				if !strings.EqualFold(header[k], v) {
					t.Errorf("%s: %q, want %q", k, header[k], v)
				}
			}
		})
	}
	// The hook does not get in the way of upgrades.
	assertAlive(t, hooked)
}

// ---------------------------------------------------------------------------
// 5. Request, Value

type reqSnap struct {
	nilReq         bool
	path, rawQuery string
	user           string
	tags           []string
	hdrLower       string
	hdrUpper       string
	hdrMissing     string
	session, theme string
	lang, nocookie string
}

func snapRequest(r *server.Request) reqSnap {
	if r == nil {
		return reqSnap{nilReq: true}
	}
	q := r.Query()
	return reqSnap{
		path:       r.Path(),
		rawQuery:   r.RawQuery(),
		user:       q.Get("user"),
		tags:       q["tag"],
		hdrLower:   r.Header("x-trace-id"),
		hdrUpper:   r.Header("X-TRACE-ID"),
		hdrMissing: r.Header("X-Absent"),
		session:    r.Cookie("session"),
		theme:      r.Cookie("theme"),
		lang:       r.Cookie("lang"),
		nocookie:   r.Cookie("absent"),
	}
}

func TestAPIRequest(t *testing.T) {
	want := reqSnap{
		path:     "/chat/room%201",
		rawQuery: "user=alice&tag=a&tag=b",
		user:     "alice",
		tags:     []string{"a", "b"},
		hdrLower: "abc-123",
		hdrUpper: "abc-123",
		session:  "s3cr3t",
		theme:    "dark",
		lang:     "en",
	}
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			type userValue struct{ user string }
			opens := make(chan reqSnap, 1)
			msgs := make(chan reqSnap, 1)
			values := make(chan any, 2)
			h := server.HandlerFuncs{
				Open: func(c *server.Conn) {
					s := snapRequest(c.Request())
					c.SetValue(&userValue{user: s.user})
					// The request stays readable after SetValue.
					s2 := snapRequest(c.Request())
					if s2.nilReq {
						s.nilReq = true
					}
					opens <- s
				},
				Message: func(c *server.Conn, m server.Message) {
					msgs <- snapRequest(c.Request())
					values <- c.Value()
					_ = c.Send(m.Type, m.Data, nil)
				},
				Closed: func(c *server.Conn, err error) { values <- c.Value() },
			}
			_, addr := startAPI(t, h, server.WithKeepRequest(keep))
			c := dialRequest(t, addr, "/chat/room%201?user=alice&tag=a&tag=b",
				"x-TRACE-id:   abc-123  ",
				`Cookie: session=s3cr3t; theme="dark"`,
				"Cookie: lang=en",
			)
			got := recv(t, opens, readTimeout, "OnOpen")
			if !equalSnap(got, want) {
				t.Fatalf("in OnOpen:\n got %+v\nwant %+v", got, want)
			}
			c.mustWrite(encode(true, 0, ws.OpText, []byte("hi")))
			c.expectMessage(ws.OpText, []byte("hi"), readTimeout)
			got = recv(t, msgs, readTimeout, "OnMessage")
			wantMsg := reqSnap{nilReq: true}
			if keep {
				wantMsg = want
			}
			if !equalSnap(got, wantMsg) {
				t.Errorf("in OnMessage:\n got %+v\nwant %+v", got, wantMsg)
			}
			if v, ok := recv(t, values, readTimeout, "Value in OnMessage").(*userValue); !ok || v.user != "alice" {
				t.Errorf("Value in OnMessage = %v, want the value set in OnOpen", v)
			}
			c.closeNormally()
			if v, ok := recv(t, values, readTimeout, "Value in OnClose").(*userValue); !ok || v.user != "alice" {
				t.Errorf("Value in OnClose = %v, want the value set in OnOpen", v)
			}
		})
	}
}

func equalSnap(a, b reqSnap) bool {
	return a.nilReq == b.nilReq && a.path == b.path && a.rawQuery == b.rawQuery &&
		a.user == b.user && slices.Equal(a.tags, b.tags) && a.hdrLower == b.hdrLower &&
		a.hdrUpper == b.hdrUpper && a.hdrMissing == b.hdrMissing && a.session == b.session &&
		a.theme == b.theme && a.lang == b.lang && a.nocookie == b.nocookie
}

// ---------------------------------------------------------------------------
// 6. OnClose errors

func TestAPIOnCloseError(t *testing.T) {
	var closes closeLog
	_, addr := startAPI(t, server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) { _ = c.Send(m.Type, m.Data, nil) },
		Closed:  closes.add,
	})
	cases := []struct {
		name   string
		run    func(c *client)
		code   int
		reason string // checked when not "*"
	}{
		{"client close 4001", func(c *client) {
			c.mustWrite(encode(true, 0, ws.OpClose, closePayload(4001, "custom reason")))
			c.expectClose(4001)
		}, 4001, "custom reason"},
		{"client close 1000", func(c *client) {
			c.mustWrite(encode(true, 0, ws.OpClose, closePayload(1000, "")))
			c.expectClose(1000)
		}, 1000, ""},
		{"client close after data", func(c *client) {
			c.mustWrite(append(encode(true, 0, ws.OpText, []byte("x")), encode(true, 0, ws.OpClose, closePayload(3000, "app"))...))
			c.expectMessage(ws.OpText, []byte("x"), readTimeout)
			c.expectClose(3000)
		}, 3000, "app"},
		{"tcp dropped", func(c *client) {
			c.mustWrite(encode(true, 0, ws.OpText, []byte("x")))
			c.expectMessage(ws.OpText, []byte("x"), readTimeout)
			c.conn.Close()
		}, 1006, "*"},
		{"tcp reset", func(c *client) {
			c.conn.(*net.TCPConn).SetLinger(0)
			c.conn.Close()
		}, 1006, "*"},
		{"reserved bit", func(c *client) {
			c.mustWrite(encode(true, 1, ws.OpText, []byte("x")))
			c.expectClose(1002)
		}, 1002, "*"},
		{"unmasked frame", func(c *client) {
			c.mustWrite(encodeUnmasked(true, ws.OpText, []byte("x")))
			c.expectClose(1002)
		}, 1002, "*"},
		{"invalid utf-8", func(c *client) {
			c.mustWrite(encode(true, 0, ws.OpText, []byte{0xff, 0xfe}))
			c.expectClose(1007)
		}, 1007, "*"},
		{"protocol error, client silent", func(c *client) {
			c.noCloseReply = true
			c.mustWrite(encode(true, 0, ws.OpCode(3), nil))
			c.expectClose(1002)
		}, 1002, "*"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, addr)
			tc.run(c)
			// After failing a connection the server half-closes and waits
			// for the client to close TCP (or for the close timeout).
			c.conn.Close()
			ce := asCloseError(t, closes.wait(t, c))
			if int(ce.Code) != tc.code || (tc.reason != "*" && ce.Reason != tc.reason) {
				t.Fatalf("OnClose err = {Code: %d, Reason: %q}, want {Code: %d, Reason: %q}", ce.Code, ce.Reason, tc.code, tc.reason)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 7. Event order and serialisation per connection

func TestAPIOrderingAndConcurrency(t *testing.T) {
	const (
		conns = 50
		msgs  = 200
	)
	type track struct {
		active atomic.Int32
		closed atomic.Int32
		next   int // touched by this connection's callbacks only
	}
	var (
		tracks sync.Map // *server.Conn -> *track
		closed atomic.Int32
		errMu  sync.Mutex
		errs   []string
	)
	report := func(format string, a ...any) {
		errMu.Lock()
		errs = append(errs, fmt.Sprintf(format, a...))
		errMu.Unlock()
	}
	enter := func(tr *track, what string) {
		if n := tr.active.Add(1); n != 1 {
			report("%s overlaps another callback of the same connection (%d running)", what, n)
		}
	}
	h := server.HandlerFuncs{
		Open: func(c *server.Conn) {
			tr := new(track)
			if _, loaded := tracks.LoadOrStore(c, tr); loaded {
				report("OnOpen not first, or twice, for %v", c.RemoteAddr())
				return
			}
			enter(tr, "OnOpen")
			defer tr.active.Add(-1)
			time.Sleep(time.Millisecond) // widen the window for overlaps
		},
		Message: func(c *server.Conn, m server.Message) {
			v, ok := tracks.Load(c)
			if !ok {
				report("OnMessage before OnOpen for %v", c.RemoteAddr())
				return
			}
			tr := v.(*track)
			enter(tr, "OnMessage")
			defer tr.active.Add(-1)
			if tr.closed.Load() != 0 {
				report("OnMessage after OnClose for %v", c.RemoteAddr())
			}
			if n, err := strconv.Atoi(string(m.Data)); err != nil || n != tr.next {
				report("message %q out of order for %v, want %d", m.Data, c.RemoteAddr(), tr.next)
			}
			tr.next++
			if err := c.Send(m.Type, m.Data, nil); err != nil {
				report("Send: %v", err)
			}
		},
		Closed: func(c *server.Conn, err error) {
			v, ok := tracks.Load(c)
			if !ok {
				report("OnClose without OnOpen for %v", c.RemoteAddr())
				return
			}
			tr := v.(*track)
			enter(tr, "OnClose")
			defer tr.active.Add(-1)
			if n := tr.closed.Add(1); n != 1 {
				report("OnClose #%d for %v", n, c.RemoteAddr())
			}
			if tr.next != msgs {
				report("OnClose after %d messages for %v, want %d", tr.next, c.RemoteAddr(), msgs)
			}
			closed.Add(1)
		},
	}
	_, addr := startAPI(t, h, server.WithWorkers(4))

	results := make(chan error, conns)
	for range conns {
		go func() { results <- orderClient(t, addr, msgs) }()
	}
	for range conns {
		if err := recv(t, results, 15*time.Second, "clients"); err != nil {
			t.Error(err)
		}
	}
	waitFor(t, 5*time.Second, "OnClose of every connection", func() bool { return closed.Load() == conns })
	time.Sleep(20 * time.Millisecond)
	if n := closed.Load(); n != conns {
		t.Errorf("OnClose ran %d times for %d connections", n, conns)
	}
	errMu.Lock()
	defer errMu.Unlock()
	for i, e := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-10)
			break
		}
		t.Error(e)
	}
}

// orderClient sends n numbered messages in bursts, concurrently reads
// their echoes in order, then closes normally.
func orderClient(t *testing.T, addr string, n int) error {
	rc, err := tryDial(addr)
	if err != nil {
		return err
	}
	defer rc.Close()
	c := goClient(t, rc)
	werr := make(chan error, 1)
	go func() {
		var buf []byte
		for i := range n {
			buf = append(buf, encode(true, 0, ws.OpText, []byte(strconv.Itoa(i)))...)
			if i%7 == 6 || i == n-1 {
				if err := c.rawWrite(buf); err != nil {
					werr <- err
					return
				}
				buf = buf[:0]
			}
		}
		werr <- nil
	}()
	for i := range n {
		op, p, err := c.readMessage(readTimeout)
		if err != nil {
			return fmt.Errorf("echo #%d: %w", i, err)
		}
		if op != ws.OpText || string(p) != strconv.Itoa(i) {
			return fmt.Errorf("echo #%d: got %s %q", i, opName(op), p)
		}
	}
	if err := <-werr; err != nil {
		return err
	}
	if err := c.rawWrite(encode(true, 0, ws.OpClose, closePayload(1000, ""))); err != nil {
		return err
	}
	f, err := c.readFrame(readTimeout)
	if err != nil || f.op != ws.OpClose {
		return fmt.Errorf("close reply: %v %v", f, err)
	}
	if _, err := c.readFrame(readTimeout); !isClosedErr(err) {
		return fmt.Errorf("after close: %v, want TCP close", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// 8. The worker bound

func TestAPIWorkerLimit(t *testing.T) {
	const (
		workers = 2
		conns   = 10
		perConn = 3
	)
	gate := newReleaser(t)
	var active, peak, handled atomic.Int32
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) {
			n := active.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			gate.wait()
			active.Add(-1)
			handled.Add(1)
			_ = c.Send(m.Type, m.Data, nil)
		},
	}
	_, addr := startAPI(t, h, server.WithWorkers(workers))
	clients := make([]*client, conns)
	for i := range clients {
		clients[i] = dial(t, addr)
	}
	for i, c := range clients {
		var b []byte
		for j := range perConn {
			b = append(b, encode(true, 0, ws.OpText, fmt.Appendf(nil, "%d-%d", i, j))...)
		}
		c.mustWrite(b)
	}
	waitFor(t, 5*time.Second, "both workers busy", func() bool { return active.Load() == workers })
	time.Sleep(100 * time.Millisecond) // give a third handler the chance to start
	if p := peak.Load(); p != workers {
		t.Fatalf("%d OnMessage calls ran at once with %d workers", p, workers)
	}
	gate.release()
	for i, c := range clients {
		for j := range perConn {
			c.expectMessage(ws.OpText, fmt.Appendf(nil, "%d-%d", i, j), readTimeout)
		}
	}
	if n := handled.Load(); n != conns*perConn {
		t.Fatalf("%d messages handled, want %d", n, conns*perConn)
	}
	if p := peak.Load(); p > workers {
		t.Fatalf("%d OnMessage calls ran at once with %d workers", p, workers)
	}
	for _, c := range clients {
		c.closeNormally()
	}
}

// ---------------------------------------------------------------------------
// 9. Backpressure

func TestAPIMailboxBackpressure(t *testing.T) {
	const n = 1000
	gate := newReleaser(t)
	started := make(chan struct{}, 1)
	var first atomic.Bool
	var closes closeLog
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) {
			if first.CompareAndSwap(false, true) {
				started <- struct{}{}
				gate.wait()
			}
			_ = c.Send(m.Type, m.Data, nil)
		},
		Closed: closes.add,
	}
	srv, addr := startAPI(t, h, server.WithMailboxSize(4))
	c := dial(t, addr)
	msg := func(i int) []byte { return fmt.Appendf(nil, "message %04d %s", i, strings.Repeat(".", 16)) }
	var b []byte
	for i := range n {
		b = append(b, encode(true, 0, ws.OpText, msg(i))...)
	}
	c.mustWrite(b)
	recv(t, started, readTimeout, "the handler to start")
	// The server holds the rest of the input instead of closing.
	c.expectSilence(300 * time.Millisecond)
	if k := srv.Connections(); k != 1 {
		t.Fatalf("%d open connections while the handler is blocked, want 1", k)
	}
	gate.release()
	for i := range n {
		c.expectMessage(ws.OpText, msg(i), readTimeout)
	}
	c.closeNormally()
	if ce := asCloseError(t, closes.wait(t, c)); ce.Code != 1000 {
		t.Fatalf("OnClose code %d, want 1000", ce.Code)
	}
}

func TestAPIInboundBufferLimit(t *testing.T) {
	gate := newReleaser(t)
	var closes closeLog
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) { gate.wait() },
		Closed:  closes.add,
	}
	_, addr := startAPI(t, h, server.WithMaxInboundBuffer(64<<10))
	c := dial(t, addr)
	c.noCloseReply = true
	frameBytes := encode(true, 0, ws.OpBinary, bytes.Repeat([]byte{0xab}, 1<<10))
	burst := bytes.Repeat(frameBytes, 64)
	go func() {
		// 4 MiB; writes fail once the server has closed.
		for sent := 0; sent < 4<<20; sent += 64 << 10 {
			if c.rawWrite(burst) != nil {
				return
			}
		}
	}()
	f, err := c.readFrame(readTimeout)
	if err != nil {
		t.Fatalf("expected close 1008, got read error: %v", err)
	}
	c.finishClose(f, 1008)
	gate.release() // OnClose runs after the queued messages
	if ce := asCloseError(t, closes.wait(t, c)); ce.Code != 1008 {
		t.Fatalf("OnClose code %d, want 1008", ce.Code)
	}
}

// ---------------------------------------------------------------------------
// 10. Shutdown lets the handler in progress reply

func TestAPIShutdownInFlight(t *testing.T) {
	gate := newReleaser(t)
	started := make(chan struct{}, 1)
	sendErr := make(chan error, 1)
	h := server.HandlerFuncs{
		Message: func(c *server.Conn, m server.Message) {
			if string(m.Data) == "slow" {
				started <- struct{}{}
				gate.wait()
				sendErr <- c.Send(m.Type, m.Data, nil)
				return
			}
			_ = c.Send(m.Type, m.Data, nil)
		},
	}
	srv, addr := startAPI(t, h)
	c := dial(t, addr)
	c.mustWrite(encode(true, 0, ws.OpText, []byte("slow")))
	recv(t, started, readTimeout, "the handler to start")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	waitFor(t, 5*time.Second, "Shutdown under way", srv.Draining)
	gate.release()
	err := recv(t, sendErr, readTimeout, "the handler's Send")

	f := c.mustReadFrame(readTimeout)
	if f.op != ws.OpText || string(f.payload) != "slow" {
		t.Fatalf("expected the echo of the message in progress before the 1001 close, got %s (the handler's Send returned %v)", f, err)
	}
	if err != nil {
		t.Fatalf("Send of the handler in progress returned %v, but the echo arrived", err)
	}
	c.expectClose(1001)
	if err := recv(t, done, 8*time.Second, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
