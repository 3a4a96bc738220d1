package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsloop/wsloop/pubsub"
)

// History implements pubsub.Broker. It asks NATS for the topic's stream
// (one request; the stream is created if it does not exist), which gives
// the epoch and the latest position. Recovering messages adds one batched
// direct get (NATS 2.11 and later; older servers are asked for each
// message).
//
// The latest position only, asked with epoch 0 (pubsub.Position{}), costs
// no request while this broker is subscribed to the topic: it is then the
// position of the last message handed to the topic's subscriptions, read
// under the same lock as they are called with, so that the subscriptions
// receive exactly the messages after it (as with pubsub.Local).
func (b *Broker) History(topic string, since pubsub.Position) ([]pubsub.Message, pubsub.Position, error) {
	if !pubsub.ValidTopic(topic) {
		return nil, pubsub.Position{}, pubsub.ErrBadTopic
	}
	if b.closed.Load() {
		return nil, pubsub.Position{}, pubsub.ErrClosed
	}
	t := b.topic(topic)
	if f := t.feed.Load(); f != nil && since.Epoch == 0 {
		if p, ok := f.position(); ok {
			return nil, p, pubsub.ErrRecoveryFailed
		}
	}
	ctx, cancel := b.ctx()
	defer cancel()
	info, epoch, err := b.streamInfo(ctx, t, true)
	if err != nil {
		return nil, pubsub.Position{}, err
	}
	last := pubsub.Position{Epoch: epoch, Seq: info.State.LastSeq}
	switch {
	case since.Epoch != epoch || since.Seq > last.Seq:
		return nil, last, pubsub.ErrRecoveryFailed
	case since.Seq == last.Seq:
		return nil, last, nil
	}
	n, ttl := b.window(info)
	if last.Seq-since.Seq > n || info.State.Msgs == 0 || since.Seq+1 < info.State.FirstSeq {
		return nil, last, pubsub.ErrRecoveryFailed
	}
	var msgs []pubsub.Message
	if info.Config.AllowDirect && !b.noBatch.Load() {
		msgs, err = b.directBatch(ctx, t, since.Seq+1, last.Seq)
	} else {
		msgs, err = b.getEach(ctx, t, since.Seq+1, last.Seq)
	}
	if err != nil {
		return nil, last, err
	}
	// Messages may have expired since the stream was looked up: recovery
	// needs every one of them.
	for i, m := range msgs {
		if m.Seq != since.Seq+1+uint64(i) {
			return nil, last, pubsub.ErrRecoveryFailed
		}
	}
	if len(msgs) != int(last.Seq-since.Seq) {
		return nil, last, pubsub.ErrRecoveryFailed
	}
	now := info.TimeStamp // the server's clock, which stamped the messages
	if now.IsZero() {
		now = time.Now()
	}
	if ttl > 0 && now.Sub(msgs[0].Time) > ttl {
		return nil, last, pubsub.ErrRecoveryFailed
	}
	for i := range msgs {
		msgs[i].Epoch = epoch
	}
	return msgs, last, nil
}

// Headers of direct get answers.
const (
	hdrSequence   = "Nats-Sequence"
	hdrTimeStamp  = "Nats-Time-Stamp"
	hdrNumPending = "Nats-Num-Pending" // only in answers to batched gets
)

// directReq is a JetStream direct get request.
type directReq struct {
	Seq   uint64 `json:"seq"`
	Batch int    `json:"batch,omitempty"`
}

// directBatch reads t's messages from sequence from to to (at most what
// the server sends before its end-of-batch answer, repeated while it
// stops early) with batched direct gets. A server that answers without
// batch headers does not know batches: the broker then reads each message
// (getEach) from now on.
func (b *Broker) directBatch(ctx context.Context, t *topic, from, to uint64) ([]pubsub.Message, error) {
	inbox := b.nc.NewInbox()
	s, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, b.wrap(err)
	}
	defer s.Unsubscribe()
	out := make([]pubsub.Message, 0, to-from+1)
	subject := "$JS.API.DIRECT.GET." + t.stream
	for next := from; next <= to; {
		req, _ := json.Marshal(directReq{Seq: next, Batch: int(to - next + 1)})
		if err := b.nc.PublishRequest(subject, inbox, req); err != nil {
			return nil, b.wrap(err)
		}
		got := 0
		for {
			m, err := s.NextMsgWithContext(ctx)
			if err != nil {
				return nil, b.wrap(err)
			}
			status := m.Header.Get("Status")
			if status == "204" { // end of batch
				break
			}
			if status == "404" {
				return out, nil // the messages expired since the lookup
			}
			if status != "" {
				return nil, fmt.Errorf("natsbroker: direct get: status %s %s", status, m.Header.Get("Description"))
			}
			if m.Header.Get(hdrNumPending) == "" {
				b.noBatch.Store(true)
				return b.getEach(ctx, t, from, to)
			}
			msg, seq, err := rawMessage(t.name, m.Header, m.Data)
			if err != nil {
				return nil, err
			}
			if seq <= to {
				out = append(out, msg)
			}
			next = seq + 1
			got++
		}
		if got == 0 {
			return out, nil
		}
	}
	return out, nil
}

// getEach reads t's messages from sequence from to to one request each.
func (b *Broker) getEach(ctx context.Context, t *topic, from, to uint64) ([]pubsub.Message, error) {
	s, err := b.js.Stream(ctx, t.stream)
	if err != nil {
		return nil, b.wrap(err)
	}
	out := make([]pubsub.Message, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return out, nil // expired since the lookup
			}
			return nil, b.wrap(err)
		}
		key, kind := messageHeaders(m.Header)
		out = append(out, pubsub.Message{Topic: t.name, Position: pubsub.Position{Seq: m.Sequence}, Time: m.Time, Key: key, Kind: kind, Data: m.Data})
	}
	return out, nil
}

// rawMessage is the message of a direct get answer, without its epoch.
func rawMessage(topic string, h nats.Header, data []byte) (pubsub.Message, uint64, error) {
	seq, err := strconv.ParseUint(h.Get(hdrSequence), 10, 64)
	if err != nil {
		return pubsub.Message{}, 0, fmt.Errorf("natsbroker: direct get: bad sequence %q", h.Get(hdrSequence))
	}
	ts, err := time.Parse(time.RFC3339Nano, h.Get(hdrTimeStamp))
	if err != nil {
		return pubsub.Message{}, 0, fmt.Errorf("natsbroker: direct get: bad time stamp: %w", err)
	}
	key, kind := messageHeaders(h)
	m := pubsub.Message{Topic: topic, Position: pubsub.Position{Seq: seq}, Time: ts, Key: key, Kind: kind, Data: data}
	return m, seq, nil
}
