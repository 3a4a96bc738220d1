package poller

import (
	"time"

	"github.com/gobwas/ws"
)

// wheelSlots is the timing wheel's span in clock ticks (102.4 s). A
// connection whose next deadline lies further ahead waits in the slot at
// the end of the span and is looked at again then.
const wheelSlots = 1024

// wheel holds a loop's connections by the clock tick of their next
// deadline, so that a sweep looks only at the connections due (and at
// those parked at the end of the span), not at all of them. A deadline is
// computed when a connection is put in its slot; reads do not move it
// (they only push the real deadline later), so a connection met before its
// deadline is simply put back. Events that bring a deadline forward (our
// close frame went out, the connection lingers) put the connection on the
// soon list as well, which every sweep looks at. Loop only.
type wheel struct {
	slots [wheelSlots][]*Conn
	next  uint32 // the first tick not yet swept
	soon  []*Conn
	// backed: connections whose last write left bytes in gnet's outbound
	// buffer, for Stats.OutboundBytes.
	backed map[*Conn]struct{}
}

// add puts c in the slot of tick due, clamped to the span ahead.
func (w *wheel) add(c *Conn, due uint32) {
	due = max(due, w.next)
	due = min(due, w.next+wheelSlots-1)
	s := &w.slots[due%wheelSlots]
	*s = append(*s, c)
}

// schedule puts a connection that has just been upgraded in the wheel;
// until then it is on the soon list. On the loop.
func (l *loop) schedule(c *Conn) {
	if l.timers.next == 0 {
		l.timers.next = clk.now()
	}
	if due, ok := l.check(c, clk.now()); ok {
		l.timers.add(c, due)
	}
}

// soon makes every sweep look at c until it is upgraded or gone: a new
// connection (its handshake deadline), or one whose deadline an event
// brought forward (our close frame went out, it lingers). On the loop.
func (l *loop) soon(c *Conn) {
	if c.has(flagSoon) {
		return
	}
	c.set(flagSoon)
	l.timers.soon = append(l.timers.soon, c)
}

// noteBacked records that c's socket has bytes waiting in gnet's buffer.
func (l *loop) noteBacked(c *Conn) {
	if l.timers.backed == nil {
		l.timers.backed = make(map[*Conn]struct{})
	}
	l.timers.backed[c] = struct{}{}
}

// sweep fires the timers due since the last sweep; on the loop. Its cost is
// in proportion to the connections due, not to all of them.
func (l *loop) sweep(e *Engine) {
	now := clk.now()
	w := &l.timers
	if len(l.limits) > 0 {
		l.trimLimiters(time.Now())
	}
	if w.next == 0 {
		w.next = now
	}
	// Ticks since the last sweep; after a stall longer than the span,
	// every slot once.
	for n := 0; w.next <= now && n < wheelSlots; n++ {
		t := w.next
		w.next++ // what is put back goes to later slots
		s := &w.slots[t%wheelSlots]
		list := *s
		*s = nil
		for i, c := range list {
			list[i] = nil
			if due, ok := l.check(c, now); ok {
				w.add(c, due)
			}
		}
		if cap(list) <= 256 && *s == nil {
			*s = list[:0]
		}
	}
	if w.next <= now {
		w.next = now + 1
	}
	if len(w.soon) > 0 {
		kept := w.soon[:0]
		for _, c := range w.soon {
			// An open connection that is not closing is in the wheel.
			if _, ok := l.check(c, now); ok && (c.state() != stateOpen || c.has(flagCloseSent|flagFailed)) {
				kept = append(kept, c)
				continue
			}
			c.clear(flagSoon)
		}
		clear(w.soon[len(kept):])
		w.soon = kept
	}
	var ob int64
	for c := range w.backed {
		n := 0
		if c.state() == stateOpen {
			n = c.gc.OutboundBuffered()
		}
		if n == 0 {
			delete(w.backed, c)
		}
		ob += int64(n)
	}
	l.stats.outBuffered.Store(ob)
}

// check fires c's timer if it is due and returns its next deadline; ok is
// false once c is closed (it leaves the wheel). On the loop.
func (l *loop) check(c *Conn, now uint32) (due uint32, ok bool) {
	e := l.eng
	cfg := &e.cfg
	switch c.state() {
	case stateClosed:
		return 0, false
	case stateHandshake:
		// From the connection's start, not its last read: a client
		// trickling its head byte by byte gets no more time.
		if now-c.timer >= e.handshakeTicks {
			e.count(UpgradeTimeout)
			l.setCloseErr(c, errHandshake)
			_ = l.el.Close(c.gc)
			return 0, false
		}
		return c.timer + e.handshakeTicks, true
	case stateLinger:
		if now-c.timer >= e.closeTicks {
			_ = l.el.Close(c.gc)
			return 0, false
		}
		return c.timer + e.closeTicks, true
	}
	if c.has(flagCloseSent | flagFailed) {
		if now-c.timer >= e.closeTicks {
			l.setCloseErr(c, errCloseTimeout)
			_ = l.el.Close(c.gc)
			return 0, false
		}
		return c.timer + e.closeTicks, true
	}
	if cfg.IdleTimeout > 0 && now-c.lastRead >= e.idleTicks {
		l.setCloseErr(c, errIdleTimeout)
		c.closeNow(errIdleTimeout)
		_ = l.el.Close(c.gc)
		return 0, false
	}
	due = now + wheelSlots // nothing sooner: parked at the end of the span
	if cfg.IdleTimeout > 0 {
		due = c.lastRead + e.idleTicks
	}
	switch {
	case cfg.PingInterval <= 0:
	case c.has(flagPingOut):
		if now-c.timer >= e.pongTicks {
			l.setCloseErr(c, errPingTimeout)
			e.logAbnormal(c, errPingTimeout)
			c.closeNow(errPingTimeout)
			_ = l.el.Close(c.gc)
			return 0, false
		}
		due = min(due, c.timer+e.pongTicks)
	case c.closing():
	case now-c.lastRead >= e.pingTicks:
		c.writeControlLoop(ws.OpPing, nil)
		if c.state() == stateClosed {
			return 0, false
		}
		c.set(flagPingOut)
		c.timer = now
		due = min(due, now+e.pongTicks)
	default:
		due = min(due, c.lastRead+e.pingTicks)
	}
	return due, true
}

// goAway starts the closing handshake with 1001 on every upgraded
// connection and drops those still in their handshake; it runs on the loop.
func (l *loop) goAway() {
	act := func(c *Conn) {
		switch c.state() {
		case stateOpen:
			if !c.has(flagCloseQueued) && !c.closing() {
				c.closeAfterReplies(l.eng.goingAway, thenWait)
			}
		case stateHandshake:
			_ = l.el.Close(c.gc)
		}
	}
	for _, c := range l.timers.soon {
		act(c)
	}
	for i := range l.timers.slots {
		for _, c := range l.timers.slots[i] {
			act(c)
		}
	}
}
