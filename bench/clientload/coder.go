//go:build linux

package clientload

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// coderKind dials coder/websocket clients, through one http.Client per
// source address (the handshake is net/http's).
type coderKind struct {
	url                  string
	opts                 []*websocket.DialOptions // per source address
	interval, pingWithin time.Duration
	ev                   *counters
	readers              sync.WaitGroup
}

func newCoderKind(cfg Config, src *sources, ev *counters) *coderKind {
	k := &coderKind{url: cfg.URL, interval: cfg.Heartbeat, pingWithin: cfg.HeartbeatTimeout, ev: ev}
	for _, d := range src.dials {
		tr := &http.Transport{DialContext: d} // no proxy: loopback only
		k.opts = append(k.opts, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	}
	return k
}

func (k *coderKind) dial(ctx context.Context, i int) (held, error) {
	c, _, err := websocket.Dial(ctx, k.url, k.opts[i%len(k.opts)])
	if err != nil {
		return nil, err
	}
	ev := k.ev
	ev.opens.Add(1)
	w := &coderConn{c: c}
	if k.interval > 0 {
		t := time.AfterFunc(time.Duration(1<<62), func() {
			pctx, cancel := context.WithTimeout(context.Background(), k.pingWithin)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				// No pong in time: drop the connection, as the
				// reader cannot see a silent peer by itself.
				_ = c.CloseNow()
				return
			}
			w.ping.Load().Reset(k.interval)
		})
		w.ping.Store(t)
		t.Reset(k.interval)
	}
	k.readers.Add(1)
	go func() {
		defer k.readers.Done()
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				break
			}
		}
		w.dead.Store(true)
		if t := w.ping.Load(); t != nil {
			t.Stop()
		}
		_ = c.CloseNow()
		ev.ends.Add(1)
	}()
	return w, nil
}

func (k *coderKind) wait(_ []held, deadline <-chan time.Time) bool {
	return waitGroup(&k.readers, deadline)
}

// coderConn is one coder connection, its reader goroutine and its ping
// timer.
type coderConn struct {
	c    *websocket.Conn
	ping atomic.Pointer[time.Timer] // set once, after the timer is made
	dead atomic.Bool
}

func (w *coderConn) alive() bool { return !w.dead.Load() }
func (w *coderConn) close()      { _ = w.c.CloseNow() }
