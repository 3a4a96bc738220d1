package poller

import (
	"sync"
	"sync/atomic"
)

// Outgoing is a data message sent to one connection in order with a
// Fanout's messages: the answer to a subscription and its replay.
type Outgoing struct {
	Type MessageType
	Data []byte
}

// Fanout is a set of connections that receive the same messages: a topic's
// subscribers. Publish encodes a message once and queues it with one
// item per event loop, on the loop's outbound queue; each loop writes it to
// its members, with every other frame pending for a connection in the same
// write. Members join and leave on their loop, in order with the messages,
// and leave by themselves when their connection closes, in O(1).
//
// Every method is safe from any goroutine. Messages reach each member in
// the order of the Publish, Join and Leave calls and the connection's own
// Send calls, when the caller orders them (for example under a lock): all
// go through the same queue.
type Fanout struct {
	mu     sync.Mutex               // serializes adding shards
	shards atomic.Pointer[[]*shard] // one per loop with members; append-only
	eng    atomic.Pointer[Engine]   // the members' engine
	n      atomic.Int32             // members
	flate  atomic.Int32             // members with permessage-deflate
}

// shard is a Fanout's members on one loop; members is touched only there.
type shard struct {
	f       *Fanout
	l       *loop
	n       atomic.Int32
	members []*Member
}

// Member is one connection's membership of a Fanout.
type Member struct {
	f        *Fanout
	sh       *shard
	c        *Conn
	idx      int32 // in sh.members; -1 when not in it (loop only)
	gone     bool  // left, or its connection closed (loop only)
	conflate bool
}

// NewFanout returns an empty fan-out.
func NewFanout() *Fanout { return new(Fanout) }

// Len is the number of members (those joined and not yet left).
func (f *Fanout) Len() int { return int(f.n.Load()) }

// shardFor returns the fan-out's shard on l, adding it on first use.
func (f *Fanout) shardFor(l *loop) *shard {
	if p := f.shards.Load(); p != nil {
		for _, sh := range *p {
			if sh.l == l {
				return sh
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []*shard
	if p := f.shards.Load(); p != nil {
		for _, sh := range *p {
			if sh.l == l {
				return sh
			}
		}
		list = append(list, *p...)
	}
	sh := &shard{f: f, l: l}
	list = append(list, sh)
	f.shards.Store(&list)
	return sh
}

// Publish queues one message, with conflation key key ("": none), for
// every member. p is copied. Safe from any goroutine.
func (f *Fanout) Publish(t MessageType, p []byte, key string) {
	list := f.shards.Load()
	e := f.eng.Load()
	if list == nil || e == nil {
		return
	}
	fr := newFrame(t, p, key, &e.cfg, f.flate.Load() > 0)
	fr.owner = f
	for _, sh := range *list {
		if sh.n.Load() > 0 {
			fr.retain()
			sh.l.enqueue(outItem{kind: outDeliver, sh: sh, fr: fr})
		}
	}
	fr.release()
}

// Join adds c to the fan-out, after sending it first (in order); with
// conflate, keyed messages are conflated while c is behind (see
// Config.ConflateAbove). It returns nil if c is closing or closed. Each
// Outgoing's Data is copied.
func (f *Fanout) Join(c *Conn, conflate bool, first ...Outgoing) *Member {
	if c.state() != stateOpen || c.closing() {
		return nil
	}
	e := c.eng()
	f.eng.CompareAndSwap(nil, e)
	sh := f.shardFor(c.loop)
	m := &Member{f: f, sh: sh, c: c, idx: -1, conflate: conflate}
	sh.n.Add(1)
	f.n.Add(1)
	if c.has(flagDeflate) {
		f.flate.Add(1)
	}
	c.loop.enqueue(outItem{kind: outJoin, m: m, out: framesFor(c, first)})
	return m
}

// Leave removes the member, then sends last to its connection (in order
// after the member's messages). Leaving twice, or after the connection
// closed, does nothing more. Each Outgoing's Data is copied.
func (m *Member) Leave(last ...Outgoing) {
	m.c.loop.enqueue(outItem{kind: outLeave, m: m, out: framesFor(m.c, last)})
}

// framesFor encodes messages for one connection.
func framesFor(c *Conn, msgs []Outgoing) []*Frame {
	if len(msgs) == 0 {
		return nil
	}
	cfg := &c.eng().cfg
	out := make([]*Frame, len(msgs))
	for i, o := range msgs {
		out[i] = newFrame(o.Type, o.Data, "", cfg, c.has(flagDeflate))
	}
	return out
}

// add puts m in its shard; on the loop.
func (m *Member) add() {
	sh := m.sh
	m.idx = int32(len(sh.members))
	sh.members = append(sh.members, m)
	l := sh.l
	if l.members == nil {
		l.members = make(map[*Conn][]*Member)
	}
	l.members[m.c] = append(l.members[m.c], m)
}

// remove takes m out of its shard and uncounts it; on the loop. O(1): the
// last member takes its place.
func (m *Member) remove() {
	if m.gone {
		return
	}
	m.gone = true
	if i := m.idx; i >= 0 {
		sh := m.sh
		last := len(sh.members) - 1
		moved := sh.members[last]
		sh.members[i] = moved
		moved.idx = i
		sh.members[last] = nil
		sh.members = sh.members[:last]
		if cap(sh.members) > 1024 && last < cap(sh.members)/4 {
			// Most members left (a storm of closes): give the memory back.
			sh.members = append([]*Member(nil), sh.members...)
		}
		m.idx = -1
	}
	m.sh.n.Add(-1)
	m.f.n.Add(-1)
	if m.c.has(flagDeflate) {
		m.f.flate.Add(-1)
	}
}

// leave removes m and drops it from its connection's list; on the loop.
func (m *Member) leave() {
	if m.gone {
		return
	}
	m.remove()
	l := m.sh.l
	list := l.members[m.c]
	for i, x := range list {
		if x == m {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(l.members, m.c)
	} else {
		l.members[m.c] = list
	}
}

// dropMembers ends every membership of a closed connection; on the loop,
// from OnClose.
func (l *loop) dropMembers(c *Conn) {
	list, ok := l.members[c]
	if !ok {
		return
	}
	for _, m := range list {
		m.remove()
	}
	delete(l.members, c)
	l.dropBacklog(c)
}
