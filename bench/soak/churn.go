package soak

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsloop/wsloop/pubsub/wire"
)

// churnSources is how many loopback source addresses churn rotates
// through (127.0.1.1 …): each has its own ephemeral port range, so
// TIME_WAIT sockets of closed connections do not exhaust the ports.
const churnSources = 250

// churn opens and closes short WebSocket connections at a target rate.
// Its counters are safe to read from any goroutine while it runs.
type churn struct {
	addr           string
	rate           float64
	workers        int
	subscribeEvery int

	attempts  atomic.Uint64
	ok        atomic.Uint64 // upgraded and closed as planned
	failed    atomic.Uint64
	readMsg   atomic.Uint64 // subscribed and read a publication
	clean     atomic.Uint64 // closed with a close handshake
	abrupt    atomic.Uint64 // closed with a reset
	seq       atomic.Uint64
	lastErrMu sync.Mutex
	lastErr   string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  time.Time
	stopAt time.Time
}

// startChurn starts the churn workers against addr (host:port).
func startChurn(addr string, rate float64, workers, subscribeEvery int) *churn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &churn{addr: addr, rate: rate, workers: workers, subscribeEvery: subscribeEvery, cancel: cancel, start: time.Now()}
	interval := time.Duration(float64(workers) / rate * float64(time.Second))
	for w := range workers {
		c.wg.Add(1)
		go c.work(ctx, w, interval)
	}
	return c
}

// stop ends the churn and waits for the workers.
func (c *churn) stop() {
	c.cancel()
	c.wg.Wait()
	c.stopAt = time.Now()
}

// work is one churn worker: one connection at a time, paced to interval,
// without catching up more than a second of lag.
func (c *churn) work(ctx context.Context, w int, interval time.Duration) {
	defer c.wg.Done()
	next := time.Now().Add(time.Duration(w) * interval / time.Duration(c.workers))
	for ctx.Err() == nil {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if d < -time.Second {
			next = time.Now()
		}
		next = next.Add(interval)
		n := c.seq.Add(1)
		c.attempts.Add(1)
		if err := c.once(ctx, n); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.failed.Add(1)
			c.lastErrMu.Lock()
			c.lastErr = err.Error()
			c.lastErrMu.Unlock()
			continue
		}
		c.ok.Add(1)
	}
}

// once makes connection n: upgrade, maybe subscribe to md.all and read a
// publication, then close, cleanly for even n and with a reset for odd n.
func (c *churn) once(ctx context.Context, n uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	src := net.IPv4(127, 0, 1, byte(1+n%churnSources))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
	wd := ws.Dialer{
		Protocols: []string{"wsloop.json"},
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	conn, br, _, err := wd.Dial(ctx, "ws://"+c.addr+"/")
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var rd io.Reader = conn
	if br != nil {
		rd = io.MultiReader(io.LimitReader(br, int64(br.Buffered())), conn)
	}
	if c.subscribeEvery > 0 && n%uint64(c.subscribeEvery) == 0 {
		req, _ := wire.AppendRequest(nil, &wire.Request{Op: wire.OpSubscribe, Topic: "md.all"})
		if err := wsutil.WriteClientText(conn, req); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		if err := readMsg(rd); err != nil {
			return err
		}
		c.readMsg.Add(1)
	}
	if n%2 == 0 {
		if err := wsutil.WriteClientMessage(conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		c.clean.Add(1)
		return nil
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.abrupt.Add(1)
	return nil
}

// readMsg reads server frames until a publication ("op":"msg"), at most 20.
func readMsg(rd io.Reader) error {
	rw := readOnly{rd}
	for i := range 20 {
		b, err := wsutil.ReadServerText(rw)
		if err != nil {
			return fmt.Errorf("read after %d messages: %w", i, err)
		}
		if a, ok := wire.ParseAnswer(b); ok && a.Op == wire.OpMsg {
			return nil
		}
	}
	return fmt.Errorf("no publication in 20 messages")
}

// readOnly is the io.ReadWriter wsutil's reader wants: it would answer
// pings by writing, and a churn connection does not answer them.
type readOnly struct{ io.Reader }

func (readOnly) Write(p []byte) (int, error) { return len(p), nil }

// churnStats is a snapshot of the counters.
type churnStats struct {
	Attempts, OK, Failed, ReadMsg, Clean, Abrupt uint64
	Seconds                                      float64
	Rate                                         float64 // completed connections per second
	LastErr                                      string
}

func (c *churn) stats() churnStats {
	end := c.stopAt
	if end.IsZero() {
		end = time.Now()
	}
	s := churnStats{
		Attempts: c.attempts.Load(), OK: c.ok.Load(), Failed: c.failed.Load(), ReadMsg: c.readMsg.Load(),
		Clean: c.clean.Load(), Abrupt: c.abrupt.Load(), Seconds: end.Sub(c.start).Seconds(),
	}
	if s.Seconds > 0 {
		s.Rate = float64(s.OK) / s.Seconds
	}
	c.lastErrMu.Lock()
	s.LastErr = c.lastErr
	c.lastErrMu.Unlock()
	return s
}
