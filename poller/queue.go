package poller

import (
	"context"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/codec"
)

// outKind says what an outItem asks of the loop.
type outKind uint8

const (
	outData    outKind = iota // a data frame from Send (c, fr, done)
	outReject                 // a Send refused over the cap: the loop applies the policy and tells done
	outClose                  // our close frame (c, fr), then what then says
	outDeliver                // a Fanout publication (sh, fr) for the shard's members
	outJoin                   // a membership (m) starts, after out
	outLeave                  // a membership (m) ends, then out
	outFlush                  // nothing: wakes the loop to write conflated backlogs
	outAuth                   // the auth hook's verdict (auth): respond, then open or refuse
)

// outItem is one thing queued for a loop's sockets by any goroutine.
type outItem struct {
	kind outKind
	then closeThen     // outClose
	code ws.StatusCode // outClose: for OnClose
	n    int32         // outData, outClose: bytes counted in c.outq
	c    *Conn
	fr   *Frame // outData, outClose, outDeliver: one reference, the item's
	done func(error)
	why  string   // outClose
	sh   *shard   // outDeliver
	m    *Member  // outJoin, outLeave
	out  []*Frame // outJoin: sent before joining; outLeave: after leaving
	auth *authReply
}

// release drops what the item holds once the loop is done with it.
func (it *outItem) release() {
	if it.fr != nil {
		it.fr.release()
	}
	for _, fr := range it.out {
		fr.release()
	}
	*it = outItem{}
}

// outQueue is a loop's one outbound queue: everything bound for its
// sockets from other goroutines (Send, Close, fan-out deliveries,
// memberships) goes through it, in order. Producers append under a short
// lock; the first producer after a drain wakes the loop (armed), and the
// others ride along, so a loop that falls behind takes many frames per
// connection in one write. The loop also drains it at the end of every
// OnTraffic call (armed is set while one runs), so the replies of a
// handler running on the loop, or on a worker while the loop is busy,
// cost no wake-up at all.
type outQueue struct {
	mu     sync.Mutex
	items  []outItem
	spare  []outItem
	armed  bool // the loop will drain before it waits again
	ticker bool // a backlog flush is scheduled
}

// enqueue queues it for the loop. Safe from any goroutine.
func (l *loop) enqueue(it outItem) {
	q := &l.q
	q.mu.Lock()
	q.items = append(q.items, it)
	wake := !q.armed
	q.armed = true
	q.mu.Unlock()
	if wake {
		l.wake()
	}
}

// wake asks the loop to drain its queue. When the engine is stopping,
// nothing will be written any more: what is queued is dropped.
func (l *loop) wake() {
	if l.el.Execute(context.Background(), l.drainTask) != nil {
		l.q.mu.Lock()
		items := l.q.items
		l.q.items, l.q.armed = nil, false
		l.q.mu.Unlock()
		for i := range items {
			it := &items[i]
			it.c.dropQueued(it)
			if it.auth != nil {
				codec.PutBuffer(it.auth.buf)
			}
			it.release()
		}
	}
}

// hold marks the loop as about to drain (at the end of OnTraffic), so
// producers meanwhile do not wake it; on the loop.
func (l *loop) hold() {
	l.q.mu.Lock()
	l.q.armed = true
	l.q.mu.Unlock()
}

// drain takes what is queued, turns it into each connection's pending
// frames and writes them, one write per connection; on the loop.
func (l *loop) drain() {
	q := &l.q
	q.mu.Lock()
	items := q.items
	q.items, q.spare = q.spare[:0], nil
	q.armed = false
	q.mu.Unlock()

	w := &l.batch
	if len(l.backlogs) > 0 {
		l.flushBacklogs()
	}
	deliveries := 0
	for i := range items {
		if items[i].kind == outDeliver {
			deliveries++
		}
	}
	// Several publications in one drain reach the same connections:
	// gather each one's frames into one write.
	w.keyed = deliveries > 1
	for i := range items {
		it := &items[i]
		switch it.kind {
		case outData, outClose, outReject:
			en := entry{kind: entryKind(it.kind), fr: it.fr, n: it.n}
			if it.done != nil || it.kind == outClose {
				x := entryExts.Get().(*entryExt)
				x.done, x.then, x.code, x.why = it.done, it.then, it.code, it.why
				en.x = x
			}
			w.addConn(it.c, en)
			it.fr = nil // the entry holds the reference now
		case outDeliver:
			for _, m := range it.sh.members {
				w.addMember(m, it.fr)
			}
		case outJoin:
			m := it.m
			if m.c.state() != stateOpen || m.c.closing() {
				m.remove()
				break
			}
			for _, fr := range it.out {
				w.addFrame(m.c, fr)
			}
			m.add()
		case outAuth:
			it.auth.finish()
		case outLeave:
			it.m.leave()
			if it.m.c.state() == stateOpen {
				for _, fr := range it.out {
					w.addFrame(it.m.c, fr)
				}
			}
		}
	}
	w.flush()
	for i := range items {
		items[i].release()
	}
	q.mu.Lock()
	if q.spare == nil {
		q.spare = items[:0]
	}
	q.mu.Unlock()
	if len(l.backlogs) > 0 {
		l.scheduleFlush()
	}
}

// runDrain is the task that wake queues on the loop.
type runDrain struct{ l *loop }

func (r runDrain) Run(context.Context) error {
	r.l.drain()
	return nil
}

var _ gnet.Runnable = runDrain{}

// scheduleFlush makes the loop look at its conflated backlogs again soon,
// even if nothing is published meanwhile; on the loop.
func (l *loop) scheduleFlush() {
	q := &l.q
	q.mu.Lock()
	if q.ticker {
		q.mu.Unlock()
		return
	}
	q.ticker = true
	q.mu.Unlock()
	time.AfterFunc(backlogFlushEvery, func() {
		q.mu.Lock()
		q.ticker = false
		q.mu.Unlock()
		l.enqueue(outItem{kind: outFlush})
	})
}

// backlogFlushEvery is how often a loop with conflated backlogs checks
// whether their connections caught up.
const backlogFlushEvery = 10 * time.Millisecond
