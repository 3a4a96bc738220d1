package client

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
)

// The topic protocol on the wire (package pubsub's doc.go): requests
// out, answers and publications in, gap detection and healing.

func appendSubscribe(b []byte, s *subscription) []byte {
	b = append(b, `{"op":"subscribe","topic":`...)
	b = strconv.AppendQuote(b, s.topic)
	if s.have {
		b = fmt.Appendf(b, `,"since":{"epoch":"%016x","seq":%d}`, s.last.Epoch, s.last.Seq)
	}
	if s.opts.Conflate {
		b = append(b, `,"conflate":true`...)
	}
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, s.reqID, 10)
	return append(b, '}')
}

// answer is a JSON message of the topic protocol.
type answer struct {
	Op       string          `json:"op"`
	ID       json.RawMessage `json:"id"`
	Topic    string          `json:"topic"`
	Epoch    string          `json:"epoch"`
	Seq      uint64          `json:"seq"`
	Key      string          `json:"key"`
	Data     json.RawMessage `json:"data"`
	Recovery string          `json:"recovery"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
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
		if t == Binary && cn.proto == SubprotocolBinary && len(data) > 0 && data[0] == 0x01 {
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
	if len(b) < 2 {
		return false
	}
	tl := int(b[1])
	if len(b) < 2+tl+17 {
		return false
	}
	topic := b[2 : 2+tl]
	p := b[2+tl:]
	pos := Position{Epoch: binary.BigEndian.Uint64(p), Seq: binary.BigEndian.Uint64(p[8:])}
	kl := int(p[16])
	if len(p) < 17+kl {
		return false
	}
	s := c.lookup(topic)
	if s == nil {
		return true // unsubscribed meanwhile
	}
	c.publish(cn, s, pos, p[17:17+kl], p[17+kl:])
	return true
}

// jsonAnswer handles a JSON message of the topic protocol.
func (c *Client) jsonAnswer(cn *conn, b []byte) bool {
	var a answer
	if json.Unmarshal(b, &a) != nil {
		return false
	}
	switch a.Op {
	case "msg":
		e, err := strconv.ParseUint(a.Epoch, 16, 64)
		if err != nil {
			return false
		}
		s := c.lookup([]byte(a.Topic))
		if s != nil {
			c.publish(cn, s, Position{e, a.Seq}, []byte(a.Key), a.Data)
		}
		return true
	case "subscribed":
		e, err := strconv.ParseUint(a.Epoch, 16, 64)
		if err != nil {
			return false
		}
		s := c.lookup([]byte(a.Topic))
		if s == nil {
			return true
		}
		ev := SubscribeEvent{Topic: s.topic, Position: Position{e, a.Seq}, Resubscribed: s.resub}
		switch a.Recovery {
		case "ok":
			ev.Recovery = RecoveryOK
		case "failed":
			ev.Recovery = RecoveryFailed
		}
		s.last, s.have, s.active = ev.Position, true, true
		if s.opts.OnSubscribed != nil {
			s.opts.OnSubscribed(c, ev)
		}
		return true
	case "unsubscribed":
		return true
	case "error":
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
			s.opts.OnSubscribed(c, SubscribeEvent{Topic: s.topic, Resubscribed: s.resub, Err: serr})
		} else if s == nil {
			c.report(serr)
		}
		return true
	}
	return false
}

// publish checks a publication's sequence and delivers it.
func (c *Client) publish(cn *conn, s *subscription, pos Position, key, data []byte) {
	if !s.active {
		return // the answer to a (re)subscribe is still to come
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
	s.last, s.have = pos, true
	if s.opts.OnPublication != nil {
		s.pub.Position, s.pub.Key, s.pub.Data = pos, key, data
		s.opts.OnPublication(c, &s.pub)
		s.pub.Key, s.pub.Data = nil, nil
	}
}

// heal resubscribes s from its last position after a gap: unsubscribe and
// subscribe-with-since go out back to back; publications are dropped
// until the new answer.
func (c *Client) heal(cn *conn, s *subscription) {
	b := []byte(`{"op":"unsubscribe","topic":`)
	b = strconv.AppendQuote(b, s.topic)
	b = append(b, '}')
	_ = cn.sendData(Text, b, nil)
	c.mu.Lock()
	flush, _ := c.requestLocked(cn, s, true)
	c.mu.Unlock()
	if flush {
		cn.wr.flush()
	}
}
