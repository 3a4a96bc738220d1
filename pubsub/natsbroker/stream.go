package natsbroker

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// recheck is how long Publish trusts a topic's cached epoch before it asks
// NATS again (so that a stream deleted and recreated behind this broker's
// back is noticed within that time even on a node that only publishes).
const recheck = 10 * time.Second

// maxEncoded is the longest base32 form of a topic used in a stream name;
// longer topics are named by their SHA-256.
const maxEncoded = 160

// b32 is lower-case base32hex without padding: stream names stay unique on
// case-insensitive file systems (the JetStream file store names a
// directory after each stream) and never contain 'w' to 'z'.
var b32 = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// streamName is the name of topic's stream: prefix, '_', then the topic in
// b32, or 'z' and the hex SHA-256 of the topic when that is longer than
// maxEncoded ('z' is not a b32 digit, so the forms cannot collide).
func streamName(prefix, topic string) string {
	if b32.EncodedLen(len(topic)) <= maxEncoded {
		return prefix + "_" + b32.EncodeToString([]byte(topic))
	}
	sum := sha256.Sum256([]byte(topic))
	return prefix + "_z" + hex.EncodeToString(sum[:])
}

// topic is what a broker knows of one topic. Its names never change; the
// cache of its stream is atomic; mu serializes looking the stream up or
// creating it; subMu serializes Subscribe and cancel, which change feed.
type topic struct {
	// The topic's subject, its stream, the root of its key subjects
	// (keySubject) and its state stream (state.go).
	name, subject, stream, keys, state string

	// The cache of the stream: its epoch (0: unknown), when that was last
	// confirmed (UnixNano), and base, a sequence number the stream had
	// reached in that epoch: a publish acknowledged at or below base went
	// to a new stream. Writers store base before epoch; Publish loads
	// base before epoch.
	base    atomic.Uint64
	epoch   atomic.Uint64
	checked atomic.Int64
	mu      sync.Mutex

	subMu sync.Mutex
	feed  atomic.Pointer[feed]

	// The cache of the state stream (admit): the epoch it sources, the
	// messages it held and when that was learned (UnixNano), when this
	// node last swept it, and whether it published a Delete since.
	stateEpoch atomic.Uint64
	stateN     atomic.Uint64
	stateAt    atomic.Int64
	sweptAt    atomic.Int64
	deleted    atomic.Bool
	// limit is the topic stream's MaxMsgs; sourced, how far the state
	// stream had copied it when last looked (keepUp).
	limit   atomic.Int64
	sourced atomic.Uint64
}

// epochOf is a stream's epoch: its creation time in nanoseconds. The
// server records it when the stream is created and keeps it in the
// stream's stored configuration, so it survives restarts of the servers
// and of wsloop, and a stream that is deleted and created again has a new
// one.
func epochOf(info *jetstream.StreamInfo) (uint64, error) {
	ns := info.Created.UnixNano()
	if ns <= 0 {
		return 0, fmt.Errorf("natsbroker: stream %s reports no creation time", info.Config.Name)
	}
	return uint64(ns), nil
}

// topic returns the broker's record of a valid topic name.
func (b *Broker) topic(name string) *topic {
	b.mu.RLock()
	t := b.topics[name]
	b.mu.RUnlock()
	if t != nil {
		return t
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t = b.topics[name]; t == nil {
		stream := streamName(b.cfg.prefix, name)
		t = &topic{name: name, subject: b.cfg.prefix + "." + name, stream: stream, keys: keyRoot + "." + stream, state: stream + stateSuffix}
		b.topics[name] = t
	}
	return t
}

// epoch returns t's epoch, from the cache when it was confirmed less than
// maxAge ago, else from NATS (creating the stream if it does not exist).
func (b *Broker) epoch(ctx context.Context, t *topic, maxAge time.Duration) (uint64, error) {
	if e := t.epoch.Load(); e != 0 && time.Now().UnixNano()-t.checked.Load() < int64(maxAge) {
		return e, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.epoch.Load(); e != 0 && time.Now().UnixNano()-t.checked.Load() < int64(maxAge) {
		return e, nil
	}
	_, e, err := b.streamInfo(ctx, t, true)
	return e, err
}

// streamInfo asks NATS for t's stream, creating it if it does not exist
// and create is set, and records it in t's cache.
func (b *Broker) streamInfo(ctx context.Context, t *topic, create bool) (*jetstream.StreamInfo, uint64, error) {
	s, err := b.js.Stream(ctx, t.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) && create {
		s, err = b.createStream(ctx, t)
	}
	if err != nil {
		return nil, 0, b.wrap(err)
	}
	info := s.CachedInfo()
	if !slices.Contains(info.Config.Subjects, t.subject) {
		return nil, 0, fmt.Errorf("natsbroker: stream %s does not store subject %s", t.stream, t.subject)
	}
	if !slices.Contains(info.Config.Subjects, t.keys+".*") {
		// Created before keyed state: store the key subjects too.
		cfg := info.Config
		cfg.Subjects = append(slices.Clone(cfg.Subjects), t.keys+".*")
		if s, err = b.js.UpdateStream(ctx, cfg); err != nil {
			return nil, 0, b.wrap(err)
		}
		info = s.CachedInfo()
	}
	e, err := epochOf(info)
	if err != nil {
		return nil, 0, err
	}
	t.base.Store(info.State.LastSeq)
	t.limit.Store(info.Config.MaxMsgs)
	t.epoch.Store(e)
	t.checked.Store(time.Now().UnixNano())
	return info, e, nil
}

// createStream creates t's stream, or looks it up if another node created
// it first (perhaps with other limits: the first creator's stay).
func (b *Broker) createStream(ctx context.Context, t *topic) (jetstream.Stream, error) {
	for attempt := 0; ; attempt++ {
		s, err := b.js.CreateStream(ctx, b.streamConfig(t))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return b.js.Stream(ctx, t.stream)
		}
		var apiErr *jetstream.APIError
		if attempt < 2 && errors.As(err, &apiErr) && apiErr.Code == 500 {
			// A server that has just deleted an account's last stream
			// removes the account's directory in the background, which
			// can fail a creation made at that moment: try again.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		return s, err
	}
}

// forget drops t's cached epoch (its stream is gone or was recreated).
func (t *topic) forget() { t.epoch.Store(0) }

// raise records that t's stream has reached seq.
func (t *topic) raise(seq uint64) {
	for {
		b := t.base.Load()
		if seq <= b || t.base.CompareAndSwap(b, seq) {
			return
		}
	}
}

// Metadata of a topic's stream: the topic's name and its history window,
// which History serves.
const (
	metaTopic      = "wsloop_topic"
	metaHistory    = "wsloop_history"
	metaHistoryTTL = "wsloop_history_ttl"
)

// streamConfig is the configuration of the stream this broker creates for
// t: one subject, kept on disk, readable with direct gets (History).
//
// Its limits are wider than the history window (twice it, and at least
// 1000 messages and a minute more): the window bounds recovery (History),
// the limits bound storage. A node's consumer reads the stream a little
// after the messages are stored; if the limits were the window, a burst
// of more than the window's messages, or a node that lags behind by more
// than its age, would lose messages to the limits before that node
// delivered them.
func (b *Broker) streamConfig(t *topic) jetstream.StreamConfig {
	n, ttl := b.cfg.max, b.cfg.ttl
	var maxAge time.Duration
	if ttl > 0 {
		maxAge = ttl + max(ttl, time.Minute)
	}
	return jetstream.StreamConfig{
		Name:        t.stream,
		Description: "wsloop topic",
		Subjects:    []string{t.subject, t.keys + ".*"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     int64(n + max(n, 1000)),
		MaxAge:      maxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.replicas,
		AllowDirect: true,
		Metadata: map[string]string{
			metaTopic:      t.name,
			metaHistory:    strconv.Itoa(n),
			metaHistoryTTL: ttl.String(),
		},
	}
}

// window is the history window of a stream: from its metadata, or this
// broker's own settings for a stream without it (NATS before 2.10 keeps no
// metadata).
func (b *Broker) window(info *jetstream.StreamInfo) (n uint64, ttl time.Duration) {
	m, err := strconv.ParseUint(info.Config.Metadata[metaHistory], 10, 64)
	d, err2 := time.ParseDuration(info.Config.Metadata[metaHistoryTTL])
	if err != nil || err2 != nil {
		return uint64(b.cfg.max), b.cfg.ttl
	}
	return m, d
}
