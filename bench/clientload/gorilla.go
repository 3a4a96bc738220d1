//go:build linux

package clientload

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// gorillaKind dials gorilla/websocket clients with default buffers.
type gorillaKind struct {
	url                  string
	dialers              []*websocket.Dialer // per source address
	interval, pingWithin time.Duration
	silence              time.Duration
	ev                   *counters
	readers              sync.WaitGroup
}

func newGorillaKind(cfg Config, src *sources, ev *counters) *gorillaKind {
	k := &gorillaKind{url: cfg.URL, interval: cfg.Heartbeat, pingWithin: cfg.HeartbeatTimeout, silence: cfg.silence(), ev: ev}
	for _, d := range src.dials {
		// No Proxy: loopback only (gorilla.DefaultDialer would consult the environment).
		k.dialers = append(k.dialers, &websocket.Dialer{NetDialContext: d, HandshakeTimeout: cfg.DialTimeout})
	}
	return k
}

func (k *gorillaKind) dial(ctx context.Context, i int) (held, error) {
	c, resp, err := k.dialers[i%len(k.dialers)].DialContext(ctx, k.url, nil)
	if err != nil {
		return nil, err
	}
	_ = resp.Body.Close()
	ev := k.ev
	ev.opens.Add(1)
	g := &gorillaConn{c: c}
	if k.interval > 0 {
		_ = c.SetReadDeadline(time.Now().Add(k.silence))
		c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(k.silence)) })
		t := time.AfterFunc(time.Duration(1<<62), func() {
			if c.WriteControl(websocket.PingMessage, nil, time.Now().Add(k.pingWithin)) == nil {
				g.ping.Load().Reset(k.interval)
			}
		})
		g.ping.Store(t)
		t.Reset(k.interval)
	}
	k.readers.Add(1)
	go func() {
		defer k.readers.Done()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				break
			}
		}
		g.dead.Store(true)
		if t := g.ping.Load(); t != nil {
			t.Stop()
		}
		_ = c.Close()
		ev.ends.Add(1)
	}()
	return g, nil
}

func (k *gorillaKind) wait(_ []held, deadline <-chan time.Time) bool {
	return waitGroup(&k.readers, deadline)
}

// gorillaConn is one gorilla connection, its reader goroutine and its
// ping timer.
type gorillaConn struct {
	c    *websocket.Conn
	ping atomic.Pointer[time.Timer] // set once, after the timer is made
	dead atomic.Bool
}

func (g *gorillaConn) alive() bool { return !g.dead.Load() }
func (g *gorillaConn) close()      { _ = g.c.Close() }
