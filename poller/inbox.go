package poller

import (
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// fanOp is one Fanout operation queued for a loop.
type fanOp struct {
	kind uint8
	sh   *shard   // opDeliver
	fr   *Frame   // opDeliver: one reference, the op's
	m    *Member  // opJoin, opLeave
	out  []*Frame // opJoin: sent before joining; opLeave: after leaving
}

const (
	opDeliver = iota
	opJoin
	opLeave
	opFlush // only wakes the loop to write conflated backlogs
)

// inbox is a loop's queue of Fanout operations. Posting to an empty inbox
// queues one drain task on the loop; operations posted before it runs ride
// along, so a loop that falls behind takes many messages per connection in
// one write.
type inbox struct {
	mu     sync.Mutex
	ops    []fanOp
	spare  []fanOp
	armed  bool // a drain task is queued
	ticker bool // a backlog flush is scheduled
}

// post queues op for the loop. Operations run in the order posted.
func (l *loop) post(op fanOp) {
	in := &l.inbox
	in.mu.Lock()
	in.ops = append(in.ops, op)
	arm := !in.armed
	in.armed = true
	in.mu.Unlock()
	if arm {
		l.wake()
	}
}

// wake queues a drain task on the loop. It rides a connection's AsyncWrite
// of no bytes: gnet's only queue that keeps order (its other tasks may
// overtake each other under load), and its callback runs on the loop even
// when that connection has closed.
func (l *loop) wake() {
	gc := l.carrier.Load()
	if gc == nil || (*gc).AsyncWrite(nil, l.drainCB) != nil {
		// The engine is stopping: nothing will be written any more.
		l.inbox.mu.Lock()
		ops := l.inbox.ops
		l.inbox.ops, l.inbox.armed = nil, false
		l.inbox.mu.Unlock()
		for _, op := range ops {
			op.discard()
		}
	}
}

// discard releases what an operation holds.
func (op *fanOp) discard() {
	if op.fr != nil {
		op.fr.release()
	}
	for _, fr := range op.out {
		fr.release()
	}
}

// drain runs the queued operations on the loop: it collects each
// connection's frames, then writes them, one write per connection.
func (l *loop) drain(gnet.Conn, error) error {
	in := &l.inbox
	in.mu.Lock()
	ops := in.ops
	in.ops, in.spare = in.spare[:0], nil
	in.armed = false
	in.mu.Unlock()

	w := &l.batch
	if len(l.backlogs) > 0 {
		l.flushBacklogs()
	}
	// A drain of one publication (the common case below saturation)
	// meets each connection once: no need to look connections up.
	w.unique = len(ops) == 1 && ops[0].kind == opDeliver
	for i := range ops {
		op := &ops[i]
		switch op.kind {
		case opDeliver:
			for _, m := range op.sh.members {
				w.add(m, op.fr)
			}
		case opJoin:
			m := op.m
			if m.c.state() != stateOpen || m.c.closing() {
				m.remove()
				break
			}
			for _, fr := range op.out {
				w.addConn(m.c, fr)
			}
			m.add()
		case opLeave:
			op.m.leave()
			if op.m.c.state() == stateOpen {
				for _, fr := range op.out {
					w.addConn(op.m.c, fr)
				}
			}
		}
	}
	w.flush()
	for i := range ops {
		ops[i].discard()
		ops[i] = fanOp{}
	}
	in.mu.Lock()
	if in.spare == nil {
		in.spare = ops[:0]
	}
	in.mu.Unlock()
	if len(l.backlogs) > 0 {
		l.scheduleFlush()
	}
	return nil
}

// scheduleFlush makes the loop look at its conflated backlogs again soon,
// even if nothing is published meanwhile; on the loop.
func (l *loop) scheduleFlush() {
	in := &l.inbox
	in.mu.Lock()
	if in.ticker {
		in.mu.Unlock()
		return
	}
	in.ticker = true
	in.mu.Unlock()
	time.AfterFunc(backlogFlushEvery, func() {
		in.mu.Lock()
		in.ticker = false
		in.mu.Unlock()
		l.post(fanOp{kind: opFlush})
	})
}

// backlogFlushEvery is how often a loop with conflated backlogs checks
// whether their connections caught up.
const backlogFlushEvery = 10 * time.Millisecond
