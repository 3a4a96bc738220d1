package natsbroker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsloop/wsloop/pubsub"
)

// Keyed state lives in JetStream, so that every node serves the same
// snapshot at the same position and it outlives any node (package doc,
// "Keyed state"). A topic's Updates and Deletes with a key are stored by
// the topic's stream, in its one sequence, on the key's own subject
// (keySubject); its state stream sources the topic's stream keeping the
// last message of each subject: the latest Update or Delete of every key
// and the latest message of the topic's own subject, each with its
// position in the topic (the Nats-Stream-Source header). A source, not a
// mirror: a mirror of a stream with direct gets answers them for it, and
// would answer History's with its few messages.

// keyRoot is the first token of key subjects: '$' keeps them apart from
// every topic's subject (a prefix has no '$').
const keyRoot = "$WSK"

// stateSuffix names a topic's state stream after its stream: '-' is in
// neither a topic stream's encoded part nor the '_' before it, so no
// topic stream has this name.
const stateSuffix = "-state"

// metaEpoch is the state stream's metadata: the epoch of the topic
// stream it sources.
const metaEpoch = "wsloop_epoch"

// hdrSource is the header of a sourced message: "<stream> <seq> …".
const hdrSource = "Nats-Stream-Source"

// readerInactive is how long NATS keeps the consumer of a state read
// that was not deleted (its node died while reading).
const readerInactive = 5 * time.Second

// Freshness of a topic's cached state stream count, and how often a node
// may sweep a state stream at its bound.
const (
	countFor   = time.Second
	sweepEvery = 5 * time.Second
)

// keySubject is the subject of t's keyed Updates and Deletes of key.
func (t *topic) keySubject(key string) string { return t.keys + "." + b32.EncodeToString([]byte(key)) }

// stateConfig is the configuration of t's state stream for the epoch.
func (b *Broker) stateConfig(t *topic, epoch uint64) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              t.state,
		Description:       "wsloop topic state",
		Sources:           []*jetstream.StreamSource{{Name: t.stream}},
		MaxMsgsPerSubject: 1,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		Replicas:          b.cfg.replicas,
		AllowDirect:       true,
		Metadata:          map[string]string{metaTopic: t.name, metaEpoch: strconv.FormatUint(epoch, 10)},
	}
}

// stateStream looks up t's state stream for the epoch, creating it if it
// does not exist and create is set (nil, nil: it does not exist). A state
// stream of an older epoch (the topic's stream was recreated) is replaced.
func (b *Broker) stateStream(ctx context.Context, t *topic, epoch uint64, create bool) (jetstream.Stream, error) {
	s, err := b.js.Stream(ctx, t.state)
	switch {
	case err == nil:
		e, _ := strconv.ParseUint(s.CachedInfo().Config.Metadata[metaEpoch], 10, 64)
		if e >= epoch {
			t.counted(s.CachedInfo(), epoch)
			return s, nil
		}
		if err := b.js.DeleteStream(ctx, t.state); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, b.wrap(err)
		}
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, b.wrap(err)
	}
	if !create {
		return nil, nil
	}
	s, err = b.js.CreateStream(ctx, b.stateConfig(t, epoch))
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = b.js.Stream(ctx, t.state)
	}
	if err != nil {
		return nil, b.wrap(err)
	}
	t.sourced.Store(0) // a new state stream, from the start of the topic's
	t.counted(s.CachedInfo(), epoch)
	return s, nil
}

// sourced is the topic's sequence number up to which its state stream
// has copied it.
func sourced(info *jetstream.StreamInfo) uint64 {
	if len(info.Sources) == 0 {
		return 0
	}
	return info.Sources[0].Seq
}

// originSeq is the topic position of a state stream's message, from its
// Nats-Stream-Source header ("<stream> <seq> …").
func originSeq(h nats.Header) (uint64, bool) {
	f := strings.Fields(h.Get(hdrSource))
	if len(f) < 2 {
		return 0, false
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	return seq, err == nil
}

// counted records the size of t's state stream of the epoch: its
// messages but the one of the topic's own subject when info counts it
// (asked with a subject filter; otherwise it counts as a key), plus one
// for each message of the topic this node knows was stored and the source
// had not copied yet.
func (t *topic) counted(info *jetstream.StreamInfo, epoch uint64) {
	n := info.State.Msgs - min(info.State.Msgs, info.State.Subjects[t.subject])
	done := sourced(info)
	t.raiseSourced(done)
	if base := t.base.Load(); base > done && t.epoch.Load() == epoch {
		n += base - done
	}
	t.stateN.Store(n)
	t.stateEpoch.Store(epoch)
	t.stateAt.Store(time.Now().UnixNano())
}

// admit prepares a keyed Update or Delete of t in the epoch: t's state
// stream must exist before the message is stored, or the state would
// miss it. An Update of a new key is refused with pubsub.ErrTooManyKeys
// when the topic's state has the broker's maximum of keys (WithMaxKeys).
//
// Counting costs nothing until the state stream may be full: it holds a
// message per key, per tombstone of a deleted key, and one for the
// topic's messages without key. Its size is looked up at most once a
// second, and whenever this node's Updates since (each counted as a new
// key) could have filled it; what this node stored that the source has
// not copied yet counts too. Near the bound the topic's own message is
// told apart (a second lookup); only then is the key looked up, and the
// keys counted exactly by a sweep, which also removes the tombstones.
func (b *Broker) admit(ctx context.Context, t *topic, epoch uint64, kind pubsub.Kind, key string) error {
	full := uint64(b.cfg.maxKeys)
	if t.stateEpoch.Load() == epoch && time.Now().UnixNano()-t.stateAt.Load() < int64(countFor) &&
		(kind != pubsub.Update || t.stateN.Add(1) <= full) {
		return nil
	}
	s, err := b.stateStream(ctx, t, epoch, true)
	if err != nil {
		return err
	}
	if kind != pubsub.Update || t.stateN.Add(1) <= full {
		return nil
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(t.subject))
	if err != nil {
		return b.wrap(err)
	}
	if t.counted(info, epoch); t.stateN.Add(1) <= full {
		return nil
	}
	if live, err := b.hasKey(ctx, s, t, key); err != nil || live {
		return err
	}
	if keys, ok := b.sweep(ctx, t, s); ok && keys < b.cfg.maxKeys {
		return nil
	}
	return pubsub.ErrTooManyKeys
}

// raiseSourced records that t's state stream has copied t's stream up
// to seq.
func (t *topic) raiseSourced(seq uint64) {
	for {
		v := t.sourced.Load()
		if seq <= v || t.sourced.CompareAndSwap(v, seq) {
			return
		}
	}
}

// keepUp holds a publish to t while its state stream lags more than
// half the topic stream's limit behind it: the stream drops its oldest
// messages past the limit, and one dropped before the state stream copied
// it would be missing from the state. The lag is this node's latest
// acknowledged sequence number minus the state stream's position, looked
// up again only when it may be too large (once per half limit of
// publishes when the state keeps up).
func (b *Broker) keepUp(ctx context.Context, t *topic) error {
	limit := t.limit.Load()
	if limit <= 0 {
		return nil
	}
	for wait := time.Duration(0); ; wait = min(2*wait+time.Millisecond, 20*time.Millisecond) {
		if base, done := t.base.Load(), t.sourced.Load(); base <= done || base-done <= uint64(limit/2) {
			return nil
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return b.wrap(ctx.Err())
			case <-time.After(wait):
			}
		}
		s, err := b.js.Stream(ctx, t.state)
		if err != nil {
			return b.wrap(err)
		}
		t.raiseSourced(sourced(s.CachedInfo()))
	}
}

// hasKey reports whether key is in t's state: its last message in the
// topic's stream (exact, but only as far back as the stream keeps), or
// else in the state stream s.
func (b *Broker) hasKey(ctx context.Context, s jetstream.Stream, t *topic, key string) (bool, error) {
	subj := t.keySubject(key)
	ts, err := b.js.Stream(ctx, t.stream)
	if err != nil {
		return false, b.wrap(err)
	}
	for _, st := range []jetstream.Stream{ts, s} {
		m, err := st.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return false, b.wrap(err)
		}
		_, kind := messageHeaders(m.Header)
		return kind == pubsub.Update, nil
	}
	return false, nil
}

// sweep counts the keys in t's state stream s and removes its
// tombstones; ok is false when it did not run. A node sweeps at once
// after it published a Delete, else at most once per sweepEvery. It
// first lets the source copy what this node stored (waiting at most a
// second).
func (b *Broker) sweep(ctx context.Context, t *topic, s jetstream.Stream) (keys int, ok bool) {
	now := time.Now().UnixNano()
	last := t.sweptAt.Load()
	if !t.deleted.Swap(false) && now-last < int64(sweepEvery) || !t.sweptAt.CompareAndSwap(last, now) {
		return 0, false
	}
	for wait := 0; wait < 100 && sourced(s.CachedInfo()) < t.base.Load(); wait++ {
		time.Sleep(10 * time.Millisecond)
		if _, err := s.Info(ctx); err != nil {
			return 0, false
		}
	}
	state, _, tombs, err := b.readState(ctx, t, s, 0)
	if err != nil {
		return 0, false
	}
	for _, d := range tombs {
		// Up to the tombstone only: a later Update of the key stays.
		_ = s.Purge(ctx, jetstream.WithPurgeSubject(d.subject), jetstream.WithPurgeSequence(d.seq+1))
	}
	t.stateAt.Store(0)
	return len(state), true
}

// tombstone is a deleted key's last message in a state stream.
type tombstone struct {
	subject string
	seq     uint64
}

// readState reads the state in t's state stream s: the latest Update of
// every live key, the tombstones of deleted ones, and the topic's
// sequence number w the state is at: every message of the topic up to w
// is in it, none after. It reads the last message of every subject with
// an ordered consumer, then what was stored while it read, to its end.
func (b *Broker) readState(ctx context.Context, t *topic, s jetstream.Stream, epoch uint64) (map[string]pubsub.Message, uint64, []tombstone, error) {
	state := make(map[string]pubsub.Message)
	info := s.CachedInfo()
	if info.State.Msgs == 0 {
		return state, sourced(info), nil, nil
	}
	c, err := b.js.OrderedConsumer(ctx, t.state, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: readerInactive,
	})
	if err != nil {
		return nil, 0, nil, b.wrap(err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		return nil, 0, nil, b.wrap(err)
	}
	defer func() {
		// Done with it: the consumer goes now, not when it times out
		// (a NATS stream may limit its consumers).
		it.Stop()
		if info := c.CachedInfo(); info != nil {
			b.deleteConsumer(t.state, info.Name)
		}
	}()
	deleted := make(map[string]tombstone)
	var w uint64
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, 0, nil, b.wrap(err)
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, 0, nil, b.wrap(err)
		}
		seq, ok := originSeq(m.Headers())
		if !ok {
			return nil, 0, nil, fmt.Errorf("natsbroker: state stream %s: message %d has no source header", t.state, md.Sequence.Stream)
		}
		w = max(w, seq)
		if subj := m.Subject(); strings.HasPrefix(subj, t.keys+".") {
			key, kind := messageHeaders(m.Headers())
			if kind == pubsub.Delete {
				delete(state, key)
				deleted[key] = tombstone{subj, md.Sequence.Stream}
			} else {
				delete(deleted, key)
				state[key] = pubsub.Message{Topic: t.name, Position: pubsub.Position{Epoch: epoch, Seq: seq}, Time: md.Timestamp, Key: key, Kind: pubsub.Update, Data: m.Data()}
			}
		}
		if md.NumPending == 0 {
			tombs := make([]tombstone, 0, len(deleted))
			for _, d := range deleted {
				tombs = append(tombs, d)
			}
			return state, w, tombs, nil
		}
	}
}

// Snapshot implements pubsub.Snapshotter: the latest Update of every key
// of the topic not deleted since, at the returned position. It reads the
// state stream (one lookup and an ordered consumer over its messages),
// then the topic's messages stored after the state stream's position,
// which the source had not copied yet (History: one lookup and one
// batched get). A topic without a state stream, looked up after the
// topic's position was read, had no keyed Update or Delete up to that
// position (a publisher creates the state stream before its first one):
// its snapshot is empty there.
func (b *Broker) Snapshot(topic string) ([]pubsub.Message, pubsub.Position, error) {
	if !pubsub.ValidTopic(topic) {
		return nil, pubsub.Position{}, pubsub.ErrBadTopic
	}
	if b.closed.Load() {
		return nil, pubsub.Position{}, pubsub.ErrClosed
	}
	t := b.topic(topic)
	ctx, cancel := b.ctx()
	defer cancel()
	for {
		info, epoch, err := b.streamInfo(ctx, t, true)
		if err != nil {
			return nil, pubsub.Position{}, err
		}
		s, err := b.stateStream(ctx, t, epoch, false)
		if err != nil {
			return nil, pubsub.Position{}, err
		}
		if s == nil {
			return nil, pubsub.Position{Epoch: epoch, Seq: info.State.LastSeq}, nil
		}
		state, w, _, err := b.readState(ctx, t, s, epoch)
		if err != nil {
			return nil, pubsub.Position{}, err
		}
		msgs, last, err := b.History(topic, pubsub.Position{Epoch: epoch, Seq: w})
		if errors.Is(err, pubsub.ErrRecoveryFailed) {
			// The source is further behind than the topic's history
			// window, or the topic's stream was recreated: look again.
			select {
			case <-ctx.Done():
				return nil, pubsub.Position{}, b.wrap(ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return nil, pubsub.Position{}, err
		}
		for _, m := range msgs {
			if m.Key == "" {
				continue
			}
			switch m.Kind {
			case pubsub.Update:
				state[m.Key] = m
			case pubsub.Delete:
				delete(state, m.Key)
			}
		}
		out := make([]pubsub.Message, 0, len(state))
		for _, m := range state {
			out = append(out, m)
		}
		slices.SortFunc(out, func(a, b pubsub.Message) int { return cmp.Compare(a.Seq, b.Seq) })
		return out, last, nil
	}
}
