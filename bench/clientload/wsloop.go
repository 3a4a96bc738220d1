//go:build linux

package clientload

import (
	"context"
	"time"

	"github.com/wsloop/wsloop/client"
)

// wsloopKind dials wsloop's client (package client).
type wsloopKind struct {
	url  string
	opts [][]client.Option // per source address
}

// The reconnect backoff a user would pick: the package's defaults, spelled
// out.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 30 * time.Second
)

func newWsloopKind(cfg Config, src *sources, ev *counters) *wsloopKind {
	// One callback pair for every client: they only count.
	onOpen := client.OnOpen(func(*client.Client) { ev.opens.Add(1) })
	onClose := client.OnClose(func(*client.Client, error) { ev.ends.Add(1) })
	k := &wsloopKind{url: cfg.URL}
	for _, d := range src.dials {
		k.opts = append(k.opts, []client.Option{
			client.WithNetDial(d),
			client.WithDialTimeout(cfg.DialTimeout),
			client.WithHeartbeat(cfg.Heartbeat, cfg.HeartbeatTimeout),
			client.WithReconnect(backoffMin, backoffMax),
			onOpen, onClose,
		})
	}
	return k
}

func (k *wsloopKind) dial(ctx context.Context, i int) (held, error) {
	c, err := client.Dial(ctx, k.url, k.opts[i%len(k.opts)]...)
	if err != nil {
		return nil, err
	}
	return wsloopConn{c}, nil
}

func (k *wsloopKind) wait(conns []held, deadline <-chan time.Time) bool {
	for _, c := range conns {
		select {
		case <-c.(wsloopConn).c.Done():
		case <-deadline:
			return false
		}
	}
	return true
}

// wsloopConn is one client.Client.
type wsloopConn struct{ c *client.Client }

func (w wsloopConn) alive() bool { return w.c.Connected() }
func (w wsloopConn) close()      { _ = w.c.Close() }
