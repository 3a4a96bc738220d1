package poller

// batch collects, during one drain of a loop's inbox, the frames each
// connection is to receive, and writes them with one write per connection.
// Loop only.
type batch struct {
	l    *loop
	at   map[*Conn]int32 // index in outs
	outs []connOut
	iov  [][]byte
}

// maxIOV is the most buffers handed to one writev.
const maxIOV = 512

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
	if w.at == nil {
		w.at = make(map[*Conn]int32)
	}
	i, ok := w.at[c]
	if !ok {
		i = int32(len(w.outs))
		w.at[c] = i
		if len(w.outs) < cap(w.outs) {
			w.outs = w.outs[:i+1]
			w.outs[i].c = c
		} else {
			w.outs = append(w.outs, connOut{c: c})
		}
	}
	o := &w.outs[i]
	o.frames = append(o.frames, fr)
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
	clear(w.at)
}

// write hands frames to gnet in one write (writev for several), under
// the slow-consumer policy. gnet copies what the socket does not take at
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
		// writev takes at most IOV_MAX (1024 on Linux) buffers; gnet
		// queues a later call's bytes behind an earlier one's leftovers.
		for rest := frames; len(rest) > 0 && err == nil; {
			k := min(len(rest), maxIOV)
			iov := w.iov[:0]
			for _, fr := range rest[:k] {
				b := fr.bytes(c)
				n += len(b)
				iov = append(iov, b)
			}
			_, err = c.gc.Writev(iov)
			clear(iov)
			w.iov = iov[:0]
			rest = rest[k:]
		}
	}
	if err == nil {
		c.sent(len(frames), n)
	}
}
