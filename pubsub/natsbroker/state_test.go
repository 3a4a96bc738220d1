package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsloop/wsloop/internal/natstest"
	"github.com/wsloop/wsloop/pubsub"
)

// TestKeyBound: an Update of a new key past WithMaxKeys is refused with
// ErrTooManyKeys, on the publishing node and on another; Updates of
// existing keys go on; deleting a key makes room on the node that
// deleted it at once (its tombstone is swept).
func TestKeyBound(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	prefix := uniquePrefix()
	a := connect(t, url, WithPrefix(prefix), WithMaxKeys(3))
	b := connect(t, url, WithPrefix(prefix), WithMaxKeys(3))
	for _, k := range []string{"k1", "k2", "k3", "k1"} {
		publishKind(t, a, "bound", pubsub.Update, k, "v")
	}
	for _, n := range []*Broker{a, b} {
		if _, err := n.PublishKind("bound", pubsub.Update, "k4", []byte("v")); !errors.Is(err, pubsub.ErrTooManyKeys) {
			t.Fatalf("a fourth key: %v, want ErrTooManyKeys", err)
		}
		publishKind(t, n, "bound", pubsub.Update, "k2", "again")
		publishKind(t, n, "bound", pubsub.Event, "k9", "a trade is not state")
	}
	publishKind(t, a, "bound", pubsub.Delete, "k3", "")
	p := publishKind(t, a, "bound", pubsub.Update, "k4", "v")
	st, pos := snapshotState(t, b, "bound")
	if want := map[string]string{"k1": "v", "k2": "again", "k4": "v"}; !maps.Equal(st, want) || pos != p {
		t.Fatalf("snapshot %v at %+v, want %v at %+v", st, pos, want, p)
	}
}

// TestStateFollowsRecreatedStream: when a topic's stream is deleted and
// created again (a new epoch), its state starts empty in the new epoch.
func TestStateFollowsRecreatedStream(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	prefix := uniquePrefix()
	a := connect(t, url, WithPrefix(prefix))
	publishKind(t, a, "re", pubsub.Update, "old", "1")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := jsClient(t, url).DeleteStream(ctx, streamName(prefix, "re")); err != nil {
		t.Fatal(err)
	}
	b := connect(t, url, WithPrefix(prefix))
	p := publishKind(t, b, "re", pubsub.Update, "new", "2")
	if p.Seq != 1 {
		t.Fatalf("first publish of the new stream at %+v", p)
	}
	for _, n := range []*Broker{a, b} {
		if st, pos := snapshotState(t, n, "re"); pos != p || !maps.Equal(st, map[string]string{"new": "2"}) {
			t.Fatalf("snapshot %v at %+v, want new=2 at %+v", st, pos, p)
		}
	}
}

// TestKeySubjectsAddedToOldStream: a topic's stream created before keyed
// state (one subject) gets the key subjects at its first lookup, keeping
// its messages and epoch.
func TestKeySubjectsAddedToOldStream(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	prefix := uniquePrefix()
	a := connect(t, url, WithPrefix(prefix))
	cfg := a.streamConfig(a.topic("old"))
	cfg.Subjects = cfg.Subjects[:1]
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	js := jsClient(t, url)
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, cfg.Subjects[0], []byte("before")); err != nil {
		t.Fatal(err)
	}
	p := publishKind(t, a, "old", pubsub.Update, "k", "after")
	if p.Seq != 2 {
		t.Fatalf("keyed publish at %+v, want seq 2", p)
	}
	if st, pos := snapshotState(t, a, "old"); pos != p || !maps.Equal(st, map[string]string{"k": "after"}) {
		t.Fatalf("snapshot %v at %+v", st, pos)
	}
	if _, err := js.Stream(ctx, cfg.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatal(err)
	}
}

// TestHistoryWithState: a topic with keyed state recovers every message
// from its history, however often asked (the state stream, which keeps
// one message per key, must never answer for the topic's stream).
func TestHistoryWithState(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	b := connect(t, url, WithPrefix(uniquePrefix()))
	var last pubsub.Position
	for i := range 200 {
		last = publishKind(t, b, "hist", pubsub.Update, fmt.Sprintf("k%d", i%5), fmt.Sprint(i))
	}
	if _, _, err := b.Snapshot("hist"); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		msgs, pos, err := b.History("hist", pubsub.Position{Epoch: last.Epoch, Seq: last.Seq - 20})
		if err != nil || pos != last || len(msgs) != 20 {
			t.Fatalf("history of the last 20: %d messages to %+v, %v", len(msgs), pos, err)
		}
		checkSeqs(t, msgs, last.Epoch, last.Seq-19)
	}
}

// TestStateReadsLeaveNoConsumers: each Snapshot reads the state stream
// with a consumer of its own and deletes it after (a stream may limit its
// consumers: the soak's hub hit the limit when they were left to time
// out).
func TestStateReadsLeaveNoConsumers(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	prefix := uniquePrefix()
	b := connect(t, url, WithPrefix(prefix))
	publishKind(t, b, "reads", pubsub.Update, "k", "v")
	for i := range 100 {
		if _, _, err := b.Snapshot("reads"); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
	}
	b.wg.Wait() // the deletions, in the background
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	s, err := jsClient(t, url).Stream(ctx, streamName(prefix, "reads")+stateSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Consumers; n != 0 {
		t.Fatalf("%d consumers left on the state stream after 100 snapshots", n)
	}
}

// TestStateKeepsUpWithBursts: concurrent publishers of new keys, far
// faster than the state stream copies and far beyond the topic stream's
// limit (history 100: the stream keeps 1,100 messages), lose no key: a
// publish waits while the state stream lags half the limit behind.
func TestStateKeepsUpWithBursts(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	b := connect(t, url, WithPrefix(uniquePrefix()), WithHistory(100, 0))
	const keys = 5000
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= keys; i = next.Add(1) {
				if _, err := b.PublishKind("burst", pubsub.Update, fmt.Sprint(i), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d keyed publishes in %v", keys, time.Since(start))
	if st, pos := snapshotState(t, b, "burst"); len(st) != keys || pos.Seq != keys {
		t.Fatalf("snapshot of %d keys at %+v, want %d at %d", len(st), pos, keys, keys)
	}
}
