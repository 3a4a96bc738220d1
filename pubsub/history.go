package pubsub

import (
	"cmp"
	"slices"
	"time"
)

// history is a topic's bounded history: the last max messages, and none
// older than ttl (0: no age limit). It is a ring; not safe for concurrent
// use (the topic's lock guards it).
type history struct {
	ring  []Message
	start int // index of the oldest message
	n     int
	max   int
	ttl   time.Duration
}

func newHistory(max int, ttl time.Duration) *history {
	return &history{max: max, ttl: ttl}
}

// add appends m, dropping the oldest message when full. m.Data becomes
// the history's.
func (h *history) add(m Message) {
	if h.max <= 0 {
		return
	}
	if h.n == len(h.ring) && h.n < h.max {
		h.grow()
	}
	if h.n == h.max {
		h.ring[h.start] = Message{}
		h.start = (h.start + 1) % len(h.ring)
		h.n--
	}
	h.ring[(h.start+h.n)%len(h.ring)] = m
	h.n++
	h.expire(m.Time)
}

// grow enlarges the full ring, doubling up to max, oldest message first.
// The ring grows only when every slot holds a message, so a topic whose
// age limit keeps few messages keeps a small ring, whatever max is.
func (h *history) grow() {
	ring := make([]Message, min(h.max, max(16, 2*len(h.ring))))
	for i := range h.n {
		ring[i] = h.ring[(h.start+i)%len(h.ring)]
	}
	h.ring, h.start = ring, 0
}

// reset drops every message.
func (h *history) reset() {
	h.ring, h.start, h.n = nil, 0, 0
}

// backfill makes msgs (oldest first, consecutive, ending at the topic's
// latest message) the history when they reach back further than what it
// holds, so that the next recoveries from that far back are answered here.
// The messages become the history's.
func (h *history) backfill(msgs []Message) {
	if len(msgs) == 0 || (h.n > 0 && h.ring[h.start].Seq <= msgs[0].Seq) {
		return
	}
	h.reset()
	for _, m := range msgs {
		h.add(m)
	}
}

// expire drops messages older than the ttl at now.
func (h *history) expire(now time.Time) {
	for h.ttl > 0 && h.n > 0 && now.Sub(h.ring[h.start].Time) > h.ttl {
		h.ring[h.start] = Message{}
		h.start = (h.start + 1) % len(h.ring)
		h.n--
	}
}

// since returns the messages after seq, oldest first, given last, the
// topic's latest sequence number. ok is false when messages after seq have
// been dropped (or seq is in the future). The messages share their Data
// with the history.
func (h *history) since(seq, last uint64, now time.Time) (out []Message, ok bool) {
	h.expire(now)
	if seq > last {
		return nil, false
	}
	if seq == last {
		return nil, true
	}
	if h.n == 0 || h.ring[h.start].Seq > seq+1 {
		return nil, false
	}
	for i := range h.n {
		m := h.ring[(h.start+i)%len(h.ring)]
		if m.Seq > seq && m.Seq <= last {
			out = append(out, m)
		}
	}
	return out, true
}

// sortedState returns the messages of a keyed state in sequence order;
// with copyData their data are fresh copies.
func sortedState(state map[string]Message, copyData bool) []Message {
	out := make([]Message, 0, len(state))
	for _, m := range state {
		if copyData {
			m.Data = append([]byte(nil), m.Data...)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Message) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}
