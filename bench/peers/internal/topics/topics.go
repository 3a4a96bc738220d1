// Package topics is what the peer servers' pubsub mode shares apart from
// the WebSocket library itself: the subscribe and unsubscribe requests of
// wsloop's wire protocol (the JSON text subset the fan-out benchmark
// speaks) and their answers, a registry of subscribers per topic, and the
// HTTP publish endpoint (POST /publish/{topic}, as wsloop's -admin address
// serves it). Each peer delivers publications the way its own library
// recommends for broadcast; that part is in the peer's pubsub.go.
//
// A peer forwards the published body unchanged as one text message to
// every subscriber of the topic: no sequence numbers, no history.
package topics

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Request is a client's subscribe or unsubscribe request:
// {"op":"subscribe","topic":"t0"}.
type Request struct {
	Op    string `json:"op"`
	Topic string `json:"topic"`
}

// Ops.
const (
	OpSubscribe   = "subscribe"
	OpUnsubscribe = "unsubscribe"
)

// ParseRequest decodes a client message. The error is the text of the
// error answer.
func ParseRequest(msg []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(msg, &r); err != nil {
		return r, errors.New("not a JSON request")
	}
	switch r.Op {
	case OpSubscribe, OpUnsubscribe:
	default:
		return r, fmt.Errorf("unknown op %q", r.Op)
	}
	if !ValidTopic(r.Topic) {
		return r, fmt.Errorf("bad topic %q", r.Topic)
	}
	return r, nil
}

// ValidTopic accepts what wsloop accepts: 1–255 bytes, no control
// characters, spaces, '*' or '>', no empty '.'-separated part.
func ValidTopic(t string) bool {
	if t == "" || len(t) > 255 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f || c == '*' || c == '>' {
			return false
		}
	}
	for _, part := range strings.Split(t, ".") {
		if part == "" {
			return false
		}
	}
	return true
}

// Subscribed is the answer to a subscribe request.
func Subscribed(topic string) []byte {
	return []byte(`{"op":"subscribed","topic":` + strconv.Quote(topic) + `}`)
}

// Unsubscribed is the answer to an unsubscribe request.
func Unsubscribed(topic string) []byte {
	return []byte(`{"op":"unsubscribed","topic":` + strconv.Quote(topic) + `}`)
}

// ErrorAnswer is the answer to a bad request.
func ErrorAnswer(err error) []byte {
	return []byte(`{"op":"error","code":"bad_request","message":` + strconv.Quote(err.Error()) + `}`)
}

// Registry maps topics to their subscribers (C is the library's connection
// type). It is safe for concurrent use: subscribing and dropping take the
// write lock, Each the read lock.
type Registry[C comparable] struct {
	mu     sync.RWMutex
	topics map[string]map[C]struct{}
	conns  map[C]map[string]struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry[C comparable]() *Registry[C] {
	return &Registry[C]{topics: map[string]map[C]struct{}{}, conns: map[C]map[string]struct{}{}}
}

// Subscribe adds c to topic's subscribers; false if it already was one.
func (r *Registry[C]) Subscribe(c C, topic string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	subs := r.topics[topic]
	if subs == nil {
		subs = map[C]struct{}{}
		r.topics[topic] = subs
	}
	if _, ok := subs[c]; ok {
		return false
	}
	subs[c] = struct{}{}
	mine := r.conns[c]
	if mine == nil {
		mine = map[string]struct{}{}
		r.conns[c] = mine
	}
	mine[topic] = struct{}{}
	return true
}

// Unsubscribe removes c from topic's subscribers; false if it was none.
func (r *Registry[C]) Unsubscribe(c C, topic string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.topics[topic][c]; !ok {
		return false
	}
	r.remove(c, topic)
	return true
}

// Drop removes c from every topic (when its connection closes).
func (r *Registry[C]) Drop(c C) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic := range r.conns[c] {
		r.remove(c, topic)
	}
}

func (r *Registry[C]) remove(c C, topic string) {
	subs := r.topics[topic]
	delete(subs, c)
	if len(subs) == 0 {
		delete(r.topics, topic)
	}
	mine := r.conns[c]
	delete(mine, topic)
	if len(mine) == 0 {
		delete(r.conns, c)
	}
}

// Each calls fn for every subscriber of topic, under the read lock (fn
// must not subscribe or drop), and returns how many there were.
func (r *Registry[C]) Each(topic string, fn func(C)) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	subs := r.topics[topic]
	for c := range subs {
		fn(c)
	}
	return len(subs)
}
