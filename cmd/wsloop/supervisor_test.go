package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/natsbroker"
)

// The -procs supervisor, as real processes: this test binary runs as the
// supervisor (TestMain, nodeEnv), which runs its workers as this binary
// again.

// supEvent is one JSON log line of the supervisor.
type supEvent struct {
	Msg   string `json:"msg"`
	Role  string `json:"role"`
	Slot  int    `json:"slot"`
	Gen   int    `json:"gen"`
	Pid   int    `json:"pid"`
	Addr  string `json:"addr"`
	Admin string `json:"admin"`
}

// sup is a running supervisor.
type sup struct {
	cmd    *exec.Cmd
	events chan supEvent
	mu     sync.Mutex
	logs   []string
}

// startSup runs a supervisor with args on a free loopback port and waits
// until it serves; it returns the supervisor and its gen-1 workers by slot.
func startSup(t *testing.T, procs int, args ...string) (*sup, []supEvent) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-procs", strconv.Itoa(procs), "-addr", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-log-format", "json", "-log-level", "info", "-drain-timeout", "5s"}, args...)
	s := &sup{events: make(chan supEvent, 1000)}
	s.cmd = exec.Command(exe, "-test.run=^$")
	s.cmd.Env = append(os.Environ(), nodeEnv+"="+strings.Join(args, "\n"))
	s.cmd.Stdout = io.Discard
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.logs = append(s.logs, sc.Text())
			s.mu.Unlock()
			var e supEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Role == "supervisor" {
				s.events <- e
			}
		}
		close(s.events)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("supervisor did not stop within 20 s of SIGTERM")
			_ = s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			s.mu.Lock()
			t.Logf("supervisor and worker logs:\n%s", strings.Join(s.logs, "\n"))
			s.mu.Unlock()
		}
	})
	workers := make([]supEvent, procs)
	for range procs {
		e := s.await(t, 30*time.Second, func(e supEvent) bool { return e.Msg == "worker ready" && e.Gen == 1 })
		workers[e.Slot] = e
	}
	s.await(t, 10*time.Second, func(e supEvent) bool { return e.Msg == "serving" })
	return s, workers
}

// await returns the next event matching ok.
func (s *sup) await(t *testing.T, timeout time.Duration, ok func(supEvent) bool) supEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, open := <-s.events:
			if !open {
				t.Fatal("supervisor exited")
			}
			if ok(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no such supervisor event within %v", timeout)
		}
	}
}

// openConns reads wsloop_connections_open from a worker's admin address.
func openConns(t *testing.T, admin string) int {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "wsloop_connections_open "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	t.Fatalf("%s: no wsloop_connections_open", admin)
	return 0
}

// dialWS opens a WebSocket to addr offering protocols. Bytes the server
// sent right behind its 101 (a 1001 close when a drain begins just then)
// may already sit in the dialer's buffered reader: reads go through it.
func dialWS(ctx context.Context, addr string, protocols ...string) (net.Conn, error) {
	conn, br, _, err := ws.Dialer{Protocols: protocols}.Dial(ctx, "ws://"+addr+"/")
	if err != nil || br == nil {
		return conn, err
	}
	return &bufferedConn{Conn: conn, r: br}, nil
}

// bufferedConn reads what the handshake's reader buffered, then the socket.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// echoDial opens a WebSocket to addr and checks one echo.
func echoDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := dialWS(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := echoOnce(conn, "hello", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return conn
}

func echoOnce(conn net.Conn, msg string, timeout time.Duration) error {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	if err := wsutil.WriteClientText(conn, []byte(msg)); err != nil {
		return err
	}
	b, err := wsutil.ReadServerText(conn)
	if err != nil {
		return err
	}
	if string(b) != msg {
		return fmt.Errorf("echo %q, want %q", b, msg)
	}
	return nil
}

// Connections spread over the workers; a worker killed with SIGKILL is
// restarted and serves new connections.
func TestProcsRestartsDeadWorker(t *testing.T) {
	s, workers := startSup(t, 2)
	addr := workers[0].Addr
	for range 40 {
		echoDial(t, addr)
	}
	for _, w := range workers {
		if n := openConns(t, w.Admin); n == 0 {
			t.Errorf("worker %d (pid %d) holds no connection of 40", w.Slot, w.Pid)
		}
	}
	victim := workers[1]
	if err := syscall.Kill(victim.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := s.await(t, 10*time.Second, func(e supEvent) bool { return e.Msg == "worker ready" && e.Slot == 1 })
	if e.Pid == victim.Pid || e.Addr != addr {
		t.Fatalf("restarted worker: %+v", e)
	}
	for range 40 {
		echoDial(t, addr)
	}
	if n := openConns(t, e.Admin); n == 0 {
		t.Errorf("the restarted worker holds none of 40 new connections")
	}
}

// reconnectingClient is an echo client that reconnects whenever the
// server closes, as a client library would, retrying every 20 ms.
type reconnectingClient struct {
	closes    map[ws.StatusCode]int // server closes by code
	reasons   map[string]int        // and by reason
	reconnect int                   // reconnections
	longest   time.Duration         // longest outage: close to working connection
	refused   map[int]int           // upgrade refusals by HTTP status
	netErrs   int                   // dials that failed below HTTP, or whose echo failed
	stuck     int                   // upgraded, but neither echo nor close within 1 s
	err       error
}

// run connects, reports on up once, and reconnects after every close
// until ctx ends; then it reports on done.
func (c *reconnectingClient) run(ctx context.Context, addr string, up, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	c.refused, c.closes, c.reasons = map[int]int{}, map[ws.StatusCode]int{}, map[string]int{}
	dial := func() (net.Conn, error) {
		for ctx.Err() == nil {
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			conn, err := dialWS(dctx, addr)
			cancel()
			var status ws.StatusError
			switch {
			case err == nil:
				// The client's health check: a connection that does not
				// answer within 1 s is given up (counted as stuck).
				if err := echoOnce(conn, "hi", time.Second); err != nil {
					conn.Close()
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						c.stuck++
					} else {
						c.netErrs++
					}
					continue
				}
				return conn, nil
			case errors.As(err, &status):
				c.refused[int(status)]++
			default:
				c.netErrs++
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil, ctx.Err()
	}
	first := true
	for {
		downAt := time.Now()
		conn, err := dial()
		if err != nil {
			if first {
				c.err = err
				up <- struct{}{}
			}
			return
		}
		if first {
			first = false
			up <- struct{}{}
		} else {
			c.reconnect++
			c.longest = max(c.longest, time.Since(downAt))
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		_, _, err = wsutil.ReadServerData(conn)
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return
		}
		var closed wsutil.ClosedError
		if !errors.As(err, &closed) {
			c.err = fmt.Errorf("connection ended by %v, want a close frame", err)
			return
		}
		c.closes[closed.Code]++
		c.reasons[closed.Reason]++
	}
}

// SIGHUP: a new generation starts on the port, the old one drains with
// 1001, and every client is back on the new generation within 5 s; upgrades
// during the handoff are refused only with 503 (retryable).
func TestProcsRollingRestart(t *testing.T) {
	const clients = 200
	s, workers := startSup(t, 2)
	addr := workers[0].Addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := make([]*reconnectingClient, clients)
	up, done := make(chan struct{}, clients), make(chan struct{}, clients)
	for i := range cs {
		cs[i] = &reconnectingClient{}
		go cs[i].run(ctx, addr, up, done)
	}
	for range clients {
		<-up
	}
	before := 0
	for _, w := range workers {
		before += openConns(t, w.Admin)
	}
	if before != clients {
		t.Fatalf("gen 1 holds %d connections, want %d", before, clients)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	gen2 := make([]supEvent, 2)
	for range 2 {
		e := s.await(t, 30*time.Second, func(e supEvent) bool { return e.Msg == "worker ready" && e.Gen == 2 })
		gen2[e.Slot] = e
	}
	s.await(t, 10*time.Second, func(e supEvent) bool { return e.Msg == "rolled over: the previous generation drains" })
	for range 2 {
		s.await(t, 15*time.Second, func(e supEvent) bool { return e.Msg == "worker exited" && e.Gen == 1 })
	}
	after := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		after = 0
		for _, w := range gen2 {
			after += openConns(t, w.Admin)
		}
		if after == clients {
			break
		}
	}
	cancel()
	for range clients {
		<-done
	}
	refused := map[int]int{}
	netErrs, reconnects, stuck := 0, 0, 0
	var longest time.Duration
	for i, c := range cs {
		if c.err != nil || c.reconnect == 0 || len(c.closes) != 1 || c.closes[ws.StatusGoingAway] == 0 ||
			len(c.reasons) != 1 || c.reasons[supervisedGoingAway] == 0 {
			t.Errorf("client %d: %d reconnections, closes by code %v and reason %v, %v", i, c.reconnect, c.closes, c.reasons, c.err)
		}
		if c.longest > 5*time.Second {
			t.Errorf("client %d was out for %v", i, c.longest)
		}
		longest = max(longest, c.longest)
		reconnects += c.reconnect
		for st, n := range c.refused {
			refused[st] += n
		}
		netErrs += c.netErrs
		stuck += c.stuck
	}
	for st := range refused {
		if st != http.StatusServiceUnavailable {
			t.Errorf("upgrades refused with %d during the handoff: %v", st, refused)
		}
	}
	if stuck > 0 {
		t.Errorf("%d connections upgraded but neither answered nor closed within 1 s", stuck)
	}
	t.Logf("%d clients, %d reconnections, longest outage %v; refusals by status %v; failed dials %d; upgraded but silent %d; gen 2 holds %d",
		clients, reconnects, longest, refused, netErrs, stuck, after)
	if after != clients {
		t.Errorf("gen 2 holds %d connections, want %d", after, clients)
	}
}

// A rolling restart under a live publisher: subscribers reconnect after
// 1001, resubscribe with "since" and recover every message, without a gap.
func TestProcsRollingRestartPubsub(t *testing.T) {
	ns := startNATS(t)
	s, workers := startSup(t, 2, "-mode", "pubsub", "-nats", ns.ClientURL())
	addr := workers[0].Addr
	const topic, subs, total = "md.roll", 20, 600

	type result struct {
		got, resumes int
		err          error
	}
	results := make(chan result, subs)
	ready := make(chan struct{}, subs)
	for range subs {
		go func() {
			var r result
			epoch, last := "", uint64(0)
			deadline := time.Now().Add(40 * time.Second)
			first := true
			for time.Now().Before(deadline) && last < total {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				conn, err := dialWS(ctx, addr, "wsloop.json")
				cancel()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				_ = conn.SetDeadline(deadline)
				since := ""
				if epoch != "" {
					since = fmt.Sprintf(`,"since":{"epoch":%q,"seq":%d}`, epoch, last)
					r.resumes++
				}
				if err := wsutil.WriteClientText(conn, []byte(`{"op":"subscribe","topic":"`+topic+`"`+since+`}`)); err != nil {
					conn.Close()
					continue
				}
				for last < total {
					b, err := wsutil.ReadServerText(conn)
					if err != nil {
						break
					}
					var m wire
					if err := json.Unmarshal(b, &m); err != nil {
						r.err = fmt.Errorf("%v: %s", err, b)
						break
					}
					switch m.Op {
					case "subscribed":
						if epoch == "" {
							epoch, last = m.Epoch, m.Seq
						} else if m.Recovery != "ok" || m.Epoch != epoch {
							r.err = fmt.Errorf("resubscribe at %d answered %s", last, b)
						}
						if first {
							first = false
							ready <- struct{}{}
						}
					case "msg":
						if m.Epoch != epoch || m.Seq != last+1 {
							r.err = fmt.Errorf("after seq %d: %s", last, b)
						} else {
							last = m.Seq
							r.got++
						}
					}
					if r.err != nil {
						break
					}
				}
				conn.Close()
				if r.err != nil {
					break
				}
			}
			if r.err == nil && last < total {
				r.err = fmt.Errorf("stopped at seq %d of %d", last, total)
			}
			results <- r
		}()
	}
	for range subs {
		select {
		case <-ready:
		case <-time.After(20 * time.Second):
			t.Fatal("subscribers did not subscribe within 20 s")
		}
	}
	b, err := natsbroker.Connect(ns.ClientURL(), natsbroker.WithHistory(pubsub.DefaultHistory, pubsub.DefaultHistoryTTL))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for k := 1; k <= total; k++ {
		if k == 100 {
			if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Publish(topic, "", []byte(fmt.Sprintf(`{"k":%d}`, k))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond)
	}
	s.await(t, 20*time.Second, func(e supEvent) bool { return e.Msg == "rolled over: the previous generation drains" })
	resumed := 0
	for i := range subs {
		r := <-results
		if r.err != nil || r.got != total {
			t.Errorf("subscriber %d: %d messages, %d resumes, %v", i, r.got, r.resumes, r.err)
		}
		if r.resumes > 0 {
			resumed++
		}
	}
	t.Logf("%d subscribers got all %d messages; %d of them resumed on the new generation", subs, total, resumed)
	if resumed != subs {
		t.Errorf("%d subscribers of %d resumed: the old generation still held the others", resumed, subs)
	}
}

// countFeed subscribes to md.all on addr and counts the updates of d; it
// returns early, with what it counted, when the connection ends.
func countFeed(t *testing.T, addr string, d time.Duration) (n int, closed error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := dialWS(ctx, addr, "wsloop.json")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(d + 5*time.Second))
	send(t, conn, `{"op":"subscribe","topic":"md.all"}`)
	var start time.Time
	for {
		b, err := wsutil.ReadServerText(conn)
		if err != nil {
			return n, err
		}
		var m wire
		if json.Unmarshal(b, &m) != nil || m.Op != "msg" {
			continue
		}
		if start.IsZero() {
			start = time.Now()
		} else if time.Since(start) > d {
			return n, nil
		}
		n++
	}
}

// In feed mode one worker runs the feed, before and after a rolling
// restart: md.all carries -feed-rate updates per second, not N times that.
func TestProcsFeedOnce(t *testing.T) {
	ns := startNATS(t)
	const rate = 200
	s, workers := startSup(t, 3, "-mode", "feed", "-nats", ns.ClientURL(), "-feed-rate", strconv.Itoa(rate), "-feed-symbols", "5")
	addr := workers[0].Addr
	check := func(when string) {
		n, err := countFeed(t, addr, time.Second)
		if err != nil {
			t.Fatalf("%s: %v after %d updates", when, err, n)
		}
		if n < rate/2 || n > rate*3/2 {
			t.Errorf("%s: %d updates on md.all in 1 s, want about %d", when, n, rate)
		}
		t.Logf("%s: %d updates in 1 s", when, n)
	}
	check("gen 1")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.await(t, 30*time.Second, func(e supEvent) bool { return e.Msg == "rolled over: the previous generation drains" })
	for range 3 {
		s.await(t, 15*time.Second, func(e supEvent) bool { return e.Msg == "worker exited" && e.Gen == 1 })
	}
	check("gen 2")
}

// -procs in pubsub or feed mode needs -nats; bad worker settings fail.
func TestProcsChecks(t *testing.T) {
	for _, mode := range []string{"pubsub", "feed"} {
		err := run([]string{"-procs", "2", "-mode", mode}, env(nil), io.Discard, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "needs -nats") {
			t.Errorf("-mode %s without -nats: %v", mode, err)
		}
	}
	for _, v := range []string{"", "1", "1 2", "x 1 now", "0 1 sometimes"} {
		if _, err := workerFromEnv(env(map[string]string{workerEnv: v})); err == nil {
			t.Errorf("%s=%q accepted", workerEnv, v)
		}
	}
}

// A draining worker leaves the port's SO_REUSEPORT group at once: while
// the old generation still waits for clients that do not answer its 1001,
// every new connection reaches the new generation (no 503).
func TestProcsDrainLeavesPort(t *testing.T) {
	s, workers := startSup(t, 2, "-close-timeout", "10s", "-drain-timeout", "15s")
	addr := workers[0].Addr
	// Silent connections hold both old workers in their drain.
	var silent []net.Conn
	for len(silent) < 40 {
		silent = append(silent, echoDial(t, addr))
	}
	for _, w := range workers {
		if n := openConns(t, w.Admin); n == 0 {
			t.Fatalf("worker %d holds none of %d connections", w.Slot, len(silent))
		}
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.await(t, 30*time.Second, func(e supEvent) bool { return e.Msg == "rolled over: the previous generation drains" })
	// Every old worker has begun its drain once its 1001 arrived.
	for _, c := range silent {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := ws.ReadFrame(c); err != nil {
			t.Fatalf("no 1001 from the draining generation: %v", err)
		}
	}
	const dials = 100
	refused := 0
	for range dials {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := dialWS(ctx, addr)
		cancel()
		if err != nil {
			refused++
			t.Logf("dial during the drain: %v", err)
			continue
		}
		if err := echoOnce(conn, "new", 5*time.Second); err != nil {
			t.Errorf("echo during the drain: %v", err)
		}
		conn.Close()
	}
	for _, w := range workers {
		if openConns(t, w.Admin) == 0 {
			t.Errorf("worker %d of generation 1 was empty before the dials ended: the test proves nothing", w.Slot)
		}
	}
	if refused > 0 {
		t.Errorf("%d of %d upgrades during the drain failed; the new generation should have taken all", refused, dials)
	}
}
