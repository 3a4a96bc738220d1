package poller

import (
	"sync"

	"github.com/gobwas/ws"
)

// entryKind says what a connection's pending entry is.
type entryKind uint8

const (
	entryData    = entryKind(outData)   // a data frame (Send's, or a fan-out's)
	entryReject  = entryKind(outReject) // a Send refused over the cap
	entryClose   = entryKind(outClose)  // our close frame
	entryControl = entryKind(iota + 8)  // a control frame from the loop (a pong)
	entryDropped                        // dropped by the slow-consumer policy
)

// entry is one frame pending for a connection in a batch. It is small
// (fan-out puts one per member per publication in a batch, and the GC
// scans what the batch keeps): what only Sends with a callback and close
// frames need lives in x.
type entry struct {
	fr   *Frame    // one reference, the entry's; nil for a reject
	x    *entryExt // nil unless the entry has a callback or is a close frame
	n    int32     // bytes counted in the connection's outq (Send, Close)
	kind entryKind
}

// entryExt is the rest of an entry from Send or Close.
type entryExt struct {
	done func(error)
	err  error // the outcome, reported to done after the write
	then closeThen
	code ws.StatusCode
	why  string
}

var entryExts = sync.Pool{New: func() any { return new(entryExt) }}

// fail records err as the entry's outcome, unless it has one.
func (en *entry) fail(err error) {
	if en.x != nil && en.x.err == nil {
		en.x.err = err
	}
}

// batch collects, on the loop, the frames each connection is to receive
// (from one drain of the loop's queue, plus the pongs of the OnTraffic call
// that ends with it) and writes them with one write per connection, under
// the slow-consumer policy. Loop only.
type batch struct {
	l     *loop
	keyed bool            // connections may recur apart: gather them (at)
	at    map[*Conn]int32 // index in outs, when keyed
	outs  []connOut
	buf   []byte // coalesced frames of one connection
}

// maxCoalesce is the most bytes of several frames copied into one write.
const maxCoalesce = 256 << 10

// connOut is one connection's entries in a batch, in order.
type connOut struct {
	c    *Conn
	ents []entry
}

// addMember queues fr for a fan-out member: written, or kept in the
// connection's conflation backlog when the member conflates, fr has a key
// and the connection is behind. A frame without a key (never conflated: a
// trade) first sends the backlog's pending values, so the connection gets
// every frame in the order published.
func (w *batch) addMember(m *Member, fr *Frame) {
	c := m.c
	if c.state() != stateOpen || c.closing() {
		return
	}
	if m.conflate && w.l.behind(c) {
		if fr.key != "" {
			w.l.conflate(c, fr)
			return
		}
		w.l.flushBacklog(c)
	}
	w.addFrame(c, fr)
}

// addFrame queues a shared frame for c, taking a reference.
func (w *batch) addFrame(c *Conn, fr *Frame) {
	fr.retain()
	w.addConn(c, entry{kind: entryData, fr: fr})
}

// addConn queues en for c, after everything already queued for it. A
// connection met again after others gets one more write, unless the batch
// is keyed.
func (w *batch) addConn(c *Conn, en entry) {
	var o *connOut
	switch n := len(w.outs); {
	case n > 0 && w.outs[n-1].c == c:
		o = &w.outs[n-1]
	case w.keyed:
		if w.at == nil {
			w.at = make(map[*Conn]int32)
		}
		if i, ok := w.at[c]; ok {
			o = &w.outs[i]
		} else {
			w.at[c] = int32(n)
			o = w.appendOut(c)
		}
	default:
		o = w.appendOut(c)
	}
	o.ents = append(o.ents, en)
}

// appendOut starts c's entry, reusing an earlier batch's slice.
func (w *batch) appendOut(c *Conn) *connOut {
	i := len(w.outs)
	if i < cap(w.outs) {
		w.outs = w.outs[:i+1]
		w.outs[i].c = c
	} else {
		w.outs = append(w.outs, connOut{c: c})
	}
	return &w.outs[i]
}

// flush writes every connection's entries and empties the batch.
func (w *batch) flush() {
	for i := 0; i < len(w.outs); i++ {
		o := &w.outs[i]
		w.write(o.c, o.ents)
		for j := range o.ents {
			en := &o.ents[j]
			if en.fr != nil {
				en.fr.release()
			}
			if x := en.x; x != nil {
				*x = entryExt{}
				entryExts.Put(x)
			}
		}
		clear(o.ents)
		o.ents = o.ents[:0]
		o.c = nil
	}
	w.outs = w.outs[:0]
	if w.keyed {
		clear(w.at)
		w.keyed = false
	}
}

// write hands c's entries to gnet in one write (per 256 KiB), under the
// slow-consumer policy, then reports each outcome to its done. gnet copies
// what the socket does not take at once, so the frames may be released
// afterwards.
//
// The policy looks at the bytes ahead of each frame: gnet's outbound
// buffer plus what this write already holds. Past MaxOutbound the peer is
// not reading: SlowDrop drops the frame (data and pongs alike), SlowClose
// closes the connection with 1008. A close frame is never dropped.
func (w *batch) write(c *Conn, ents []entry) {
	for i := range ents {
		if n := ents[i].n; n != 0 {
			c.uncount(int(n))
		}
	}
	l := w.l
	cfg := &l.eng.cfg
	max := cfg.MaxOutbound
	buf := w.buf[:0]
	start := 0 // first entry not yet written
	alive := c.state() == stateOpen && !c.has(flagCloseSent)
	var ob, msgs, bytes int
	if alive {
		ob = c.gc.OutboundBuffered()
	}
	// put writes buf and settles entries start..end-1.
	put := func(end int) {
		if len(buf) > 0 && alive {
			_, err := c.gc.Write(buf)
			if err != nil || c.state() == stateClosed {
				alive = false
			}
		}
		buf = buf[:0]
		for ; start < end; start++ {
			en := &ents[start]
			switch {
			case en.kind == entryDropped:
			case !alive:
				en.fail(c.lostErr())
			case en.kind == entryData:
				msgs++
				bytes += len(en.fr.bytes(c))
			}
		}
		if alive {
			if ob = c.gc.OutboundBuffered(); ob > 0 {
				l.noteBacked(c)
			}
		}
	}
	// drop applies the policy to an entry over the cap; it reports
	// whether the connection is still there.
	drop := func(en *entry) bool {
		if cfg.SlowConsumer == SlowDrop {
			l.eng.stats.slowDrops.Add(1)
			en.fail(ErrDropped)
			en.kind = entryDropped
			return true
		}
		c.slowClose()
		return false
	}
	for i := 0; i < len(ents) && alive; i++ {
		en := &ents[i]
		if en.kind == entryReject {
			alive = drop(en)
			continue
		}
		b := en.fr.bytes(c)
		if en.kind != entryClose && max > 0 && ob+len(buf) > max {
			alive = drop(en)
			continue
		}
		if len(buf)+len(b) > maxCoalesce && len(buf) > 0 {
			put(i)
			if !alive {
				break
			}
		}
		buf = append(buf, b...)
		if en.kind == entryClose {
			put(i + 1)
			if alive {
				c.closeSent(en.x.code, en.x.why, en.x.then)
			}
			alive = false // nothing follows a close frame
			break
		}
	}
	put(len(ents))
	if cap(buf) <= maxCoalesce*2 {
		w.buf = buf[:0]
	}
	if msgs > 0 {
		l.stats.msgsOut.Add(uint64(msgs))
		l.stats.bytesOut.Add(uint64(bytes))
	}
	for i := range ents {
		if x := ents[i].x; x != nil && x.done != nil {
			x.done(x.err)
		}
	}
}

// lostErr is what a pending Send reports when its connection went away
// before the frame was written.
func (c *Conn) lostErr() error {
	if c.has(flagSlowClosed) {
		return ErrSlowConsumer
	}
	return ErrClosed
}
