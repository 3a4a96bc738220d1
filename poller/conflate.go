package poller

// backlog is a conflating connection's latest message per key, kept while
// the connection is behind instead of queuing every update: a subscriber
// that cannot keep up sees the newest value of each key rather than stale
// ones, and its memory is bounded by the number of keys. Loop only.
type backlog struct {
	at     map[backlogKey]int // index in frames
	frames []*Frame           // in arrival order; nil where a newer one replaced it
	holes  int
}

// backlogKey names what replaces what: the same key in the same fan-out.
type backlogKey struct {
	f   *Fanout
	key string
}

// behind reports whether a conflating member's messages should be held
// back for c: c's socket already holds more than ConflateAbove unsent
// bytes, or c has a backlog still to write (which keeps each key's order).
func (l *loop) behind(c *Conn) bool {
	if _, ok := l.backlogs[c]; ok {
		return true
	}
	return c.gc.OutboundBuffered() > l.eng.cfg.ConflateAbove
}

// conflate keeps fr in c's backlog, replacing an older frame of its key.
func (l *loop) conflate(c *Conn, fr *Frame) {
	b := l.backlogs[c]
	if b == nil {
		if l.backlogs == nil {
			l.backlogs = make(map[*Conn]*backlog)
		}
		b = &backlog{at: make(map[backlogKey]int)}
		l.backlogs[c] = b
	}
	fr.retain()
	k := backlogKey{fr.owner, fr.key}
	if i, ok := b.at[k]; ok {
		// The newer frame goes to the end, so that the backlog stays in
		// sequence order across keys.
		b.frames[i].release()
		b.frames[i] = nil
		b.holes++
		l.stats.conflated.Add(1)
		if b.holes > len(b.frames)/2 {
			b.compact()
		}
	}
	b.at[k] = len(b.frames)
	b.frames = append(b.frames, fr)
}

// compact closes the holes of replaced frames.
func (b *backlog) compact() {
	kept := b.frames[:0]
	for _, fr := range b.frames {
		if fr != nil {
			b.at[backlogKey{fr.owner, fr.key}] = len(kept)
			kept = append(kept, fr)
		}
	}
	clear(b.frames[len(kept):])
	b.frames, b.holes = kept, 0
}

// flushBacklogs writes the backlogs of connections that caught up (their
// socket holds at most half of ConflateAbove) and drops those of closed
// ones.
func (l *loop) flushBacklogs() {
	low := l.eng.cfg.ConflateAbove / 2
	for c := range l.backlogs {
		if c.state() != stateOpen || c.closing() {
			l.dropBacklog(c)
			continue
		}
		if c.gc.OutboundBuffered() > low {
			continue
		}
		l.flushBacklog(c)
	}
}

// flushBacklog queues c's backlog, if any, in its order, and forgets it.
func (l *loop) flushBacklog(c *Conn) {
	b, ok := l.backlogs[c]
	if !ok {
		return
	}
	delete(l.backlogs, c)
	b.compact()
	for _, fr := range b.frames {
		l.batch.addFrame(c, fr)
		fr.release()
	}
}

// dropBacklog forgets c's backlog.
func (l *loop) dropBacklog(c *Conn) {
	b, ok := l.backlogs[c]
	if !ok {
		return
	}
	delete(l.backlogs, c)
	for _, fr := range b.frames {
		if fr != nil {
			fr.release()
		}
	}
}
