//go:build linux

package loadgen

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/server"
)

func startEcho(t testing.TB, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	srv := server.New(server.Echo(), opts...)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, srv.Addr()
}

func logTo(t testing.TB) func(string) { return func(m string) { t.Log(m) } }

func TestIdleHold(t *testing.T) {
	srv, addr := startEcho(t)
	const n = 200
	var readyOK, readyFailed atomic.Int64
	readyOK.Store(-1)
	held := make(chan int64, 1)
	cfg := Config{
		Addr: addr, Conns: n, Mode: ModeIdle, Hold: 500 * time.Millisecond,
		Src: "127.0.0.20", ConnectInflight: 64, Log: logTo(t),
		Ready: func(ok, failed int, secs float64) {
			readyOK.Store(int64(ok))
			readyFailed.Store(int64(failed))
			// The server must see every connection while they are held.
			deadline := time.Now().Add(2 * time.Second)
			for srv.Connections() < n && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			held <- srv.Connections()
		},
	}
	start := time.Now()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if readyOK.Load() != n || readyFailed.Load() != 0 {
		t.Fatalf("READY %d %d, want %d 0", readyOK.Load(), readyFailed.Load(), n)
	}
	if got := <-held; got != n {
		t.Fatalf("server held %d connections, want %d", got, n)
	}
	if res.ConnsOK != n || res.ConnsFailed != 0 || res.Errors != 0 || res.Mode != ModeIdle {
		t.Fatalf("result: %+v", res)
	}
	if el := time.Since(start); el < 500*time.Millisecond || el > 10*time.Second {
		t.Fatalf("run took %v for a 500ms hold", el)
	}
	if res.DurationSeconds < 0.45 {
		t.Fatalf("held for %.3fs", res.DurationSeconds)
	}
	// Everything is closed afterwards.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Connections() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := srv.Connections(); c != 0 {
		t.Fatalf("server still has %d connections after the run", c)
	}
}

func TestIdleAnswersPings(t *testing.T) {
	// The server pings silent connections every 50ms and drops those that
	// do not answer within 100ms: holding for 600ms needs pongs.
	srv, addr := startEcho(t, server.WithPingInterval(50*time.Millisecond), server.WithPongTimeout(100*time.Millisecond))
	var during atomic.Int64
	res, err := Run(context.Background(), Config{
		Addr: addr, Conns: 20, Mode: ModeIdle, Hold: 600 * time.Millisecond, Src: "127.0.0.25", Log: logTo(t),
		Ready: func(int, int, float64) {
			time.AfterFunc(500*time.Millisecond, func() { during.Store(srv.Connections()) })
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ConnsOK != 20 || res.Errors != 0 || during.Load() != 20 {
		t.Fatalf("%+v; server had %d connections late in the hold", res, during.Load())
	}
}

func TestHardDeadline(t *testing.T) {
	_, addr := startEcho(t)
	start := time.Now()
	res, err := Run(context.Background(), Config{
		Addr: addr, Conns: 5, Mode: ModeIdle, Hold: time.Minute, Src: "127.0.0.26",
		Deadline: 300 * time.Millisecond,
	})
	if err == nil || res == nil || res.Errors == 0 {
		t.Fatalf("no deadline error: %+v %v", res, err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("deadline 300ms, run took %v", el)
	}
}

func TestIdleStopsOnCancel(t *testing.T) {
	_, addr := startEcho(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{
		Addr: addr, Conns: 20, Mode: ModeIdle, Hold: time.Minute, Src: "127.0.0.30",
		Ready: func(int, int, float64) { time.AfterFunc(100*time.Millisecond, cancel) },
	}
	start := time.Now()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second || res.ConnsOK != 20 {
		t.Fatalf("cancel not honoured: %v %+v", time.Since(start), res)
	}
}

func TestEchoClosedLoop(t *testing.T) {
	_, addr := startEcho(t)
	res, err := Run(context.Background(), Config{
		Addr: addr, Conns: 50, Mode: ModeEcho, Size: 256, Src: "127.0.0.40",
		Warmup: 200 * time.Millisecond, Duration: time.Second, Log: logTo(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := res.Histogram()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("closed loop: %d msgs in %.2fs, p50 %dµs p99 %dµs", res.MsgsRecv, res.DurationSeconds,
		h.ValueAtQuantile(50), h.ValueAtQuantile(99))
	if res.ConnsOK != 50 || res.MsgsRecv == 0 || res.Errors != 0 {
		t.Fatalf("result: %+v", res)
	}
	if h.TotalCount() != res.MsgsRecv {
		t.Fatalf("histogram count %d != msgs_recv %d", h.TotalCount(), res.MsgsRecv)
	}
	if res.BytesRecv != 256*res.MsgsRecv {
		t.Fatalf("bytes_recv %d for %d messages of 256 B", res.BytesRecv, res.MsgsRecv)
	}
	if res.MsgsRecv > res.MsgsSent || res.MsgsSent-res.MsgsRecv > 50 {
		t.Fatalf("sent %d recv %d (closed loop: at most one outstanding per connection)", res.MsgsSent, res.MsgsRecv)
	}
	if res.DurationSeconds < 0.95 || res.DurationSeconds > 1.05 {
		t.Fatalf("duration %.3f", res.DurationSeconds)
	}
}

func TestEchoInflight(t *testing.T) {
	_, addr := startEcho(t)
	res, err := Run(context.Background(), Config{
		Addr: addr, Conns: 10, Mode: ModeEcho, Size: 64, Inflight: 4, Src: "127.0.0.45",
		Warmup: -1, Duration: 300 * time.Millisecond, Log: logTo(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.MsgsRecv == 0 || res.Errors != 0 || res.MsgsSent != res.MsgsRecv {
		t.Fatalf("result: %+v", res)
	}
}

func TestEchoOpenLoop(t *testing.T) {
	_, addr := startEcho(t)
	res, err := Run(context.Background(), Config{
		Addr: addr, Conns: 50, Mode: ModeEcho, Size: 128, Rate: 2000, Src: "127.0.0.50",
		Warmup: 200 * time.Millisecond, Duration: time.Second, Log: logTo(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := res.Histogram()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open loop: sent %d recv %d backlogged %d, p50 %dµs p99 %dµs", res.MsgsSent, res.MsgsRecv,
		res.Backlogged, h.ValueAtQuantile(50), h.ValueAtQuantile(99))
	if res.MsgsRecv < 1600 || res.MsgsRecv > 2400 || res.MsgsSent < 1600 || res.MsgsSent > 2400 {
		t.Fatalf("open loop at 2000/s for 1s: sent %d recv %d", res.MsgsSent, res.MsgsRecv)
	}
	if res.Errors != 0 || h.TotalCount() != res.MsgsRecv {
		t.Fatalf("result: %+v (hist count %d)", res, h.TotalCount())
	}
}

func TestRefusedPort(t *testing.T) {
	// A port nobody listens on: bind one, note it, close it.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, mode := range []string{ModeIdle, ModeEcho} {
		start := time.Now()
		var ready atomic.Bool
		res, err := Run(context.Background(), Config{
			Addr: addr, Conns: 100, Mode: mode, Hold: time.Minute, Duration: time.Minute,
			Src: "127.0.0.60", Ready: func(ok, failed int, _ float64) { ready.Store(ok == 0 && failed == 100) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.ConnsFailed != 100 || res.ConnsOK != 0 || !ready.Load() {
			t.Fatalf("%s: %+v", mode, res)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("%s: refused connections took %v", mode, el)
		}
	}
}

func TestConnectTimeout(t *testing.T) {
	// A listener that never answers the upgrade: connects succeed (the
	// kernel accepts into the backlog), upgrades time out.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	res, err := Run(context.Background(), Config{
		Addr: ln.Addr().String(), Conns: 10, Mode: ModeIdle, Src: "127.0.0.70",
		ConnectTimeout: 300 * time.Millisecond, Log: logTo(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ConnsFailed != 10 || time.Since(start) > 3*time.Second {
		t.Fatalf("%+v after %v", res, time.Since(start))
	}
}

func TestNotWebSocket(t *testing.T) {
	// An HTTP server that answers 200: every upgrade must fail.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
				time.Sleep(100 * time.Millisecond)
			}()
		}
	}()
	res, err := Run(context.Background(), Config{Addr: ln.Addr().String(), Conns: 5, Src: "127.0.0.80", Log: logTo(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.ConnsFailed != 5 {
		t.Fatalf("%+v", res)
	}
}

func BenchmarkEchoClosedLoop(b *testing.B) {
	_, addr := startEcho(b)
	b.ReportAllocs()
	var msgs int64
	var secs float64
	for b.Loop() {
		res, err := Run(context.Background(), Config{
			Addr: addr, Conns: 100, Mode: ModeEcho, Size: 64, Src: "127.0.0.90",
			Warmup: -1, Duration: 200 * time.Millisecond,
		})
		if err != nil {
			b.Fatal(err)
		}
		msgs += res.MsgsRecv
		secs += res.DurationSeconds
	}
	if secs > 0 {
		b.ReportMetric(float64(msgs)/secs, "msgs/s")
	}
}
