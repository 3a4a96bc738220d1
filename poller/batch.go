package poller

// batch collects, during one drain of a loop's inbox, the frames each
// connection is to receive, and writes them with one write per connection.
// Loop only.
type batch struct {
	l      *loop
	unique bool            // every addConn is for another connection
	at     map[*Conn]int32 // index in outs
	outs   []connOut
	buf    []byte // coalesced frames of one connection
}

// maxCoalesce is the most bytes of several frames copied into one write.
const maxCoalesce = 256 << 10

// connOut is one connection's frames in a batch, in order.
type connOut struct {
	c      *Conn
	frames []*Frame
}

// add queues fr for a member: written, or kept in the connection's
// conflation backlog when the member conflates, fr has a key and the
// connection is behind.
func (w *batch) add(m *Member, fr *Frame) {
	c := m.c
	if c.state() != stateOpen || c.closing() {
		return
	}
	if m.conflate && fr.key != "" && w.l.behind(c) {
		w.l.conflate(c, fr)
		return
	}
	w.addConn(c, fr)
}

// addConn queues fr for c. The caller keeps fr referenced until flush.
func (w *batch) addConn(c *Conn, fr *Frame) {
	if w.unique {
		o := w.appendOut(c)
		o.frames = append(o.frames, fr)
		return
	}
	if w.at == nil {
		w.at = make(map[*Conn]int32)
	}
	i, ok := w.at[c]
	if !ok {
		i = int32(len(w.outs))
		w.at[c] = i
		w.appendOut(c)
	}
	o := &w.outs[i]
	o.frames = append(o.frames, fr)
}

// appendOut starts c's entry, reusing an earlier batch's frame slice.
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

// flush writes every connection's frames and empties the batch.
func (w *batch) flush() {
	for i := range w.outs {
		o := &w.outs[i]
		w.write(o.c, o.frames)
		clear(o.frames)
		o.frames = o.frames[:0]
		o.c = nil
	}
	w.outs = w.outs[:0]
	if !w.unique {
		clear(w.at)
	}
}

// write hands frames to gnet in one write (per 256 KiB), under the
// slow-consumer policy. gnet copies what the socket does not take at
// once, so the frames may be released afterwards.
func (w *batch) write(c *Conn, frames []*Frame) {
	if len(frames) == 0 || c.state() != stateOpen || c.closing() {
		return
	}
	cfg := &w.l.eng.cfg
	if cfg.MaxOutbound > 0 && c.has(flagSlow) {
		ob := c.gc.OutboundBuffered()
		if ob > cfg.MaxOutbound {
			w.l.eng.stats.slowDrops.Add(uint64(len(frames)))
			return
		}
		if ob <= cfg.MaxOutbound/2 {
			c.clear(flagSlow)
		}
	}
	var n int
	var err error
	if len(frames) == 1 {
		b := frames[0].bytes(c)
		n = len(b)
		_, err = c.gc.Write(b)
	} else {
		// One coalesced buffer per write: gnet copies what the socket
		// does not take, so it is reused at once. (writev would take
		// the frames in place, but x/sys allocates its iovecs per call.)
		buf := w.buf[:0]
		for _, fr := range frames {
			b := fr.bytes(c)
			n += len(b)
			if len(buf)+len(b) > maxCoalesce && len(buf) > 0 {
				if _, err = c.gc.Write(buf); err != nil {
					break
				}
				buf = buf[:0]
			}
			buf = append(buf, b...)
		}
		if err == nil {
			_, err = c.gc.Write(buf)
		}
		if cap(buf) <= maxCoalesce*2 {
			w.buf = buf[:0]
		}
	}
	if err == nil {
		c.sent(len(frames), n)
	}
}
