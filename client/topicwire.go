package client

import (
	"strconv"

	"github.com/wsloop/wsloop/internal/fossil"
	"github.com/wsloop/wsloop/pubsub/wire"
)

// The topic protocol on the wire (package pubsub's doc.go): requests
// out, answers and publications in, gap detection and healing.

func appendSubscribe(b []byte, s *subscription) []byte {
	r := wire.Request{Op: wire.OpSubscribe, Topic: s.topic, Conflate: s.opts.Conflate, Snapshot: s.opts.Snapshot, ID: strconv.AppendUint(nil, s.reqID, 10)}
	if s.opts.Delta {
		r.Delta = wire.DeltaFossil
	}
	if s.have {
		r.Since = &s.last
	}
	b, _ = wire.AppendRequest(b, &r)
	return b
}

// topicMode reports whether cn speaks the topic protocol.
func (c *Client) topicMode(cn *conn) bool {
	if cn.proto == SubprotocolJSON || cn.proto == SubprotocolBinary {
		return true
	}
	c.mu.Lock()
	n := len(c.subs)
	c.mu.Unlock()
	return cn.proto == "" && n > 0
}

// dispatch delivers one message (on the client's goroutine).
func (c *Client) dispatch(cn *conn, t MessageType, data []byte) {
	if c.topicMode(cn) {
		if t == Binary && cn.proto == SubprotocolBinary && len(data) > 0 && data[0] >= byte(wire.Publication) && data[0] <= byte(wire.Event) {
			if c.binaryPublication(cn, data) {
				return
			}
		}
		if t == Text && len(data) > 7 && string(data[:7]) == `{"op":"` {
			if c.jsonAnswer(cn, data) {
				return
			}
		}
	}
	if c.cfg.onMessage != nil {
		c.cfg.onMessage(c, Message{Type: t, Data: data})
	}
}

func (c *Client) lookup(topic []byte) *subscription {
	c.mu.Lock()
	s := c.subs[string(topic)]
	c.mu.Unlock()
	return s
}

// binaryPublication decodes a SubprotocolBinary publication.
func (c *Client) binaryPublication(cn *conn, b []byte) bool {
	f, ok := wire.ParseBinaryPublication(b)
	if !ok {
		return false
	}
	s := c.lookup(f.Topic)
	if s == nil {
		return true // unsubscribed meanwhile
	}
	c.publish(cn, s, f.Kind, f.Position, f.Key, f.Data)
	return true
}

// jsonAnswer handles a JSON message of the topic protocol.
func (c *Client) jsonAnswer(cn *conn, b []byte) bool {
	a, ok := wire.ParseAnswer(b)
	if !ok {
		return false
	}
	switch a.Op {
	case wire.OpMsg:
		s := c.lookup([]byte(a.Topic))
		if s != nil {
			c.publish(cn, s, a.Kind, a.Position, []byte(a.Key), a.Data)
		}
		return true
	case wire.OpSubscribed:
		s := c.lookup([]byte(a.Topic))
		if s == nil {
			return true
		}
		ev := SubscribeEvent{Topic: s.topic, Position: a.Position, Snapshot: a.Snapshot, Resubscribed: s.resub}
		switch a.Recovery {
		case wire.RecoveryOK:
			ev.Recovery = RecoveryOK
		case wire.RecoveryFailed:
			ev.Recovery = RecoveryFailed
		case wire.RecoverySnapshot:
			ev.Recovery = RecoverySnapshot
		}
		s.last, s.have, s.active = ev.Position, true, true
		if s.values != nil && ev.Snapshot >= 0 {
			clear(s.values) // the snapshot that follows replaces them
		}
		if s.opts.OnSubscribed != nil {
			s.opts.OnSubscribed(c, ev)
		}
		return true
	case wire.OpUnsubscribed:
		return true
	case wire.OpError:
		id, _ := strconv.ParseUint(string(a.ID), 10, 64)
		serr := &ServerError{Code: a.Code, Message: a.Message}
		var s *subscription
		c.mu.Lock()
		for _, x := range c.subs {
			if x.reqID == id && id != 0 {
				s = x
				delete(c.subs, x.topic)
				break
			}
		}
		c.mu.Unlock()
		if s != nil && s.opts.OnSubscribed != nil {
			s.opts.OnSubscribed(c, SubscribeEvent{Topic: s.topic, Snapshot: -1, Resubscribed: s.resub, Err: serr})
		} else if s == nil {
			c.report(serr)
		}
		return true
	}
	return false
}

// publish checks a publication's sequence and delivers it. A snapshot
// entry carries an older sequence and does not move the position.
func (c *Client) publish(cn *conn, s *subscription, kind wire.Kind, pos Position, key, data []byte) {
	if !s.active {
		return // the answer to a (re)subscribe is still to come
	}
	if kind == wire.Snapshot {
		s.keep(kind, key, data)
		c.deliver(s, kind, pos, key, data)
		return
	}
	if s.have && pos.Epoch == s.last.Epoch {
		if pos.Seq <= s.last.Seq {
			return // duplicate
		}
		if pos.Seq != s.last.Seq+1 && !s.opts.Conflate {
			if s.opts.OnGap != nil {
				s.opts.OnGap(c, s.topic, s.last, pos)
			}
			c.heal(cn, s)
			return
		}
	} else if s.have && !s.opts.Conflate {
		if s.opts.OnGap != nil {
			s.opts.OnGap(c, s.topic, s.last, pos)
		}
		c.heal(cn, s)
		return
	}
	if kind == wire.Delta {
		base, ok := s.values[string(key)]
		full, err := fossil.Apply(base, data)
		if err != nil || !ok {
			// No base, or not this base: start again from a snapshot.
			if s.opts.OnGap != nil {
				s.opts.OnGap(c, s.topic, s.last, pos)
			}
			s.have = false
			c.heal(cn, s)
			return
		}
		kind, data = wire.Publication, full
	}
	s.keep(kind, key, data)
	s.last, s.have = pos, true
	c.deliver(s, kind, pos, key, data)
}

// keep records a key's value for Delta.
func (s *subscription) keep(kind wire.Kind, key, data []byte) {
	if s.values == nil || len(key) == 0 {
		return
	}
	switch kind {
	case wire.Publication, wire.Snapshot:
		if v, ok := s.values[string(key)]; ok {
			s.values[string(key)] = append(v[:0], data...)
		} else {
			s.values[string(key)] = append([]byte(nil), data...)
		}
	case wire.Delete:
		delete(s.values, string(key))
	}
}

// deliver hands a publication to the subscription's callback.
func (c *Client) deliver(s *subscription, kind wire.Kind, pos Position, key, data []byte) {
	if s.opts.OnPublication != nil {
		s.pub.Position, s.pub.Kind, s.pub.Key, s.pub.Data = pos, kind, key, data
		s.opts.OnPublication(c, &s.pub)
		s.pub.Key, s.pub.Data = nil, nil
	}
}

// heal resubscribes s from its last position after a gap: unsubscribe and
// subscribe-with-since go out back to back; publications are dropped
// until the new answer.
func (c *Client) heal(cn *conn, s *subscription) {
	b, _ := wire.AppendRequest(nil, &wire.Request{Op: wire.OpUnsubscribe, Topic: s.topic})
	_ = cn.sendData(Text, b, nil)
	c.mu.Lock()
	flush, _ := c.requestLocked(cn, s, true)
	c.mu.Unlock()
	if flush {
		cn.wr.flush()
	}
}
