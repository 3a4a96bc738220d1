package poller

import (
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
)

// gnet's callbacks for the engine as a whole and for each connection's
// start and end; the read path (OnTraffic) is in read.go.

// OnBoot records the engine and the bound address.
func (e *Engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.gnetEng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := syscall.Getsockname(fd); err == nil {
			if in, ok := sa.(*syscall.SockaddrInet4); ok {
				e.addr.Store(net.JoinHostPort(net.IP(in.Addr[:]).String(), strconv.Itoa(in.Port)))
			} else if in6, ok := sa.(*syscall.SockaddrInet6); ok {
				e.addr.Store(net.JoinHostPort(net.IP(in6.Addr[:]).String(), strconv.Itoa(in6.Port)))
			}
		}
		_ = syscall.Close(fd)
	}
	return gnet.None
}

// OnOpen gives the new TCP connection its state; no buffers yet.
func (e *Engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c := &Conn{gc: gc, loop: e.loopOf(gc.EventLoop()), remote: remoteAddr(gc)}
	if tcp, ok := gc.Context().(*net.TCPAddr); ok {
		// A connection registered by the TLS listener: its peer is the
		// TLS client, not the socket pair gnet sees.
		c.remote = tcp
	}
	c.lastRead = clk.advance()
	c.timer = c.lastRead // the handshake deadline runs from here
	c.loop.soon(c)
	gc.SetContext(c)
	if n := e.conns.Add(1); e.cfg.TrimMemory {
		e.trim.opened(n)
	}
	return nil, gnet.None
}

// OnClose ends the connection on the loop and queues the handler's OnClose
// behind its pending messages.
func (e *Engine) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok || c.state() == stateClosed {
		return gnet.None
	}
	wasOpen := c.has(flagOpened)
	c.setState(stateClosed)
	c.set(bitClosing)
	c.release()
	c.loop.dropLimiter(c)
	c.loop.dropMembers(c)
	if d := c.loop.takeDecoder(c); d != nil {
		d.Reset()
		e.putDecoder(d)
	}
	e.conns.Add(-1)
	if !wasOpen {
		return gnet.None
	}
	e.open.Add(-1)
	cerr := c.loop.takeCloseErr(c)
	if cerr == nil {
		reason := "connection closed without a close frame"
		if err != nil {
			reason = err.Error()
		}
		cerr = &codec.CloseError{Code: ws.StatusAbnormalClosure, Reason: reason}
		e.cfg.Logger.Info("abnormal close", "remote", c.remote, "code", int(cerr.Code), "reason", reason)
	}
	c.loop.stats.countClose(int(cerr.Code))
	switch {
	case !e.onClose:
	case e.cfg.InlineHandlers:
		e.run(&task{c: c, kind: taskClosed, arg: cerr})
	default:
		e.pool.Push(&c.mbox, task{c: c, kind: taskClosed, arg: cerr}, 0)
	}
	return gnet.None
}

// OnTick runs on gnet's ticker goroutine: it advances the clock and asks
// each loop to sweep its connections' timers.
//
// It ticks only as often as the shortest timeout needs (every second with
// the defaults): an idle server process wakes as little as possible, which
// matters when dozens of them share a port and two cores.
func (e *Engine) OnTick() (time.Duration, gnet.Action) {
	// gnet calls OnBoot before it registers its event loops and starts the
	// ticker after: Start returns once connections can be registered
	// (the TLS listener's Register needs the loops).
	e.bootOnce.Do(func() { close(e.booted) })
	clk.advance()
	if e.cfg.TrimMemory {
		e.trim.tick(e.conns.Load(), clk.now())
	}
	for _, l := range e.loopList() {
		_ = l.execute(func() { l.sweep(e) })
	}
	return e.cfg.sweepEvery(), gnet.None
}
