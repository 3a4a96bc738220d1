package poller

import (
	"context"
	"errors"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
)

// Errors the sweeps close connections with.
var (
	errPingTimeout  = &codec.CloseError{Code: ws.StatusInternalServerError, Reason: "keepalive ping timeout"}
	errIdleTimeout  = &codec.CloseError{Code: ws.StatusGoingAway, Reason: "idle timeout"}
	errGoingAway    = &codec.CloseError{Code: ws.StatusGoingAway, Reason: "server shutting down"}
	errCloseTimeout = errors.New("wsloop: peer did not complete the closing handshake")
	errHandshake    = errors.New("wsloop: handshake timeout")
)

// loop is the per-event-loop state: the loop's connections, for the timer
// sweeps, and scratch space for responses. Only its event loop touches it.
type loop struct {
	el      gnet.EventLoop
	conns   []*Conn
	scratch []byte
}

func (l *loop) add(c *Conn) {
	c.idx = int32(len(l.conns))
	l.conns = append(l.conns, c)
}

func (l *loop) remove(c *Conn) {
	i := int(c.idx)
	last := len(l.conns) - 1
	if i < 0 || i > last || l.conns[i] != c {
		return
	}
	l.conns[i] = l.conns[last]
	l.conns[i].idx = int32(i)
	l.conns[last] = nil
	l.conns = l.conns[:last]
	c.idx = -1
}

// sweep checks every connection's timers; it runs on the loop.
func (l *loop) sweep(e *Engine) {
	now := e.clock.now()
	cfg := &e.cfg
	for i := len(l.conns) - 1; i >= 0; i-- {
		if i >= len(l.conns) {
			continue
		}
		c := l.conns[i]
		switch c.state {
		case stateHandshake:
			if now-c.lastRead >= e.handshakeTicks {
				c.closeErr = errHandshake
				_ = l.el.Close(c.gc)
			}
		case stateLinger:
			if now-c.timer >= e.closeTicks {
				_ = l.el.Close(c.gc)
			}
		case stateOpen:
			switch {
			case c.flags&flagCloseSent != 0:
				if now-c.timer >= e.closeTicks {
					if c.closeErr == nil {
						c.closeErr = errCloseTimeout
					}
					_ = l.el.Close(c.gc)
				}
			case cfg.IdleTimeout > 0 && now-c.lastRead >= e.idleTicks:
				c.closeErr = errIdleTimeout
				c.closeNow(errIdleTimeout)
				_ = l.el.Close(c.gc)
			case cfg.PingInterval <= 0:
			case c.flags&flagPingOut != 0:
				if now-c.timer >= e.pongTicks {
					c.closeErr = errPingTimeout
					e.logAbnormal(c, errPingTimeout)
					c.closeNow(errPingTimeout)
					_ = l.el.Close(c.gc)
				}
			case now-c.lastRead >= e.pingTicks && !c.closing.Load():
				c.writeControlLoop(ws.OpPing, nil)
				c.flags |= flagPingOut
				c.timer = now
			}
		}
	}
}

// goAway starts the closing handshake with 1001 on every upgraded
// connection and drops those still in their handshake; it runs on the loop.
func (l *loop) goAway() {
	for i := len(l.conns) - 1; i >= 0; i-- {
		if i >= len(l.conns) {
			continue
		}
		c := l.conns[i]
		switch c.state {
		case stateOpen:
			if c.closing.CompareAndSwap(false, true) {
				_ = c.writeClose(errGoingAway.Code, errGoingAway.Reason, false)
			}
		case stateHandshake:
			_ = l.el.Close(c.gc)
		}
	}
}

// execute runs fn on the loop.
func (l *loop) execute(fn func()) error {
	return l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil
	}))
}
