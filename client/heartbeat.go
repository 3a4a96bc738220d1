package client

import (
	"net"
	"time"

	"github.com/gobwas/ws"
)

// heartbeat pings the server every interval from a timer (no goroutine
// at rest) while the reader keeps pushing its read deadline to
// interval·1.5+timeout past the last frame received: if the pongs stop,
// the read fails and the connection is replaced.
type heartbeat struct {
	interval, timeout time.Duration
	timer             *time.Timer
	lastSet           time.Time
}

func (h *heartbeat) start(cn *conn) {
	h.interval, h.timeout = cn.c.cfg.pingInterval, cn.c.cfg.pongTimeout
	if h.interval <= 0 {
		return
	}
	var tick func()
	tick = func() {
		if cn.wr.send(newFrame(ws.OpPing, false, nil), nil, true) == nil {
			h.timer.Reset(h.interval)
		}
	}
	h.timer = time.AfterFunc(time.Duration(1<<62), tick)
	h.timer.Reset(h.interval)
}

// touch pushes the read deadline after a frame arrived; it resets the
// socket's deadline at most every interval/2.
func (h *heartbeat) touch(nc net.Conn) {
	if h.interval <= 0 {
		return
	}
	now := time.Now()
	if now.Sub(h.lastSet) < h.interval/2 {
		return
	}
	h.lastSet = now
	_ = nc.SetReadDeadline(now.Add(h.interval*3/2 + h.timeout))
}

func (h *heartbeat) stop() {
	if h.timer != nil {
		h.timer.Stop()
	}
}
