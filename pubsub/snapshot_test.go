package pubsub_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/wsloop/wsloop/internal/fossil"
	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
)

// stateHash is an order-free digest of a keyed state: the XOR of a hash of
// every (key, value), updated as keys change.
type stateHash uint64

func kvHash(key string, val []byte) stateHash {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(val)
	return stateHash(h.Sum64())
}

// view is a client's state of a topic, and its digest.
type view struct {
	vals map[string][]byte
	hash stateHash
}

func (v *view) set(key string, val []byte) {
	if old, ok := v.vals[key]; ok {
		v.hash ^= kvHash(key, old)
	}
	v.vals[key] = val
	v.hash ^= kvHash(key, val)
}

func (v *view) del(key string) {
	if old, ok := v.vals[key]; ok {
		v.hash ^= kvHash(key, old)
		delete(v.vals, key)
	}
}

// TestSnapshotConsistency: while a publisher updates (and sometimes
// deletes) 1,000 keys at about 10,000 messages a second, with trades in
// between, clients subscribe with snapshots at random moments, in the
// JSON form, the binary form and the binary form with Fossil deltas; each
// client's view (snapshot, then every message applied) equals the
// publisher's state at its snapshot's position and at every sequence
// number after it.
func TestSnapshotConsistency(t *testing.T) {
	const (
		topic   = "md.book"
		keys    = 1000
		total   = 12000
		clients = 60
	)
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)

	// The publisher's digest after every sequence number.
	var mu sync.Mutex
	more := sync.NewCond(&mu)
	digests := make([]stateHash, 1, total+1)
	pub := view{vals: make(map[string][]byte)}
	published := make(chan uint64, 1)
	var started sync.WaitGroup
	started.Add(1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		started.Done()
		for i := 1; i <= total; i++ {
			if i%10 == 0 {
				<-tick.C // about 10,000 a second
			}
			key := fmt.Sprintf("L%03d", rng.IntN(keys))
			kind, data := pubsub.Update, fmt.Appendf(nil, `{"px":%d.%02d,"qty":%d,"side":"bid","lvl":"%s"}`, 100+rng.IntN(5), rng.IntN(100), rng.IntN(1000), key)
			switch r := rng.IntN(100); {
			case r < 3:
				kind, data = pubsub.Delete, nil
			case r < 6:
				kind, data = pubsub.Event, fmt.Appendf(nil, `{"trade":%d}`, i)
			}
			mu.Lock()
			pos, err := hub.PublishKind(topic, kind, key, data)
			if err != nil || pos.Seq != uint64(i) {
				mu.Unlock()
				t.Errorf("publish %d: %v %v", i, pos, err)
				published <- 0
				return
			}
			switch kind {
			case pubsub.Update:
				pub.set(key, data)
			case pubsub.Delete:
				pub.del(key)
			}
			digests = append(digests, pub.hash)
			more.Broadcast()
			mu.Unlock()
		}
		published <- total
	}()
	started.Wait()
	// A subscriber may read a message before its Publish returned.
	digestAt := func(seq uint64) stateHash {
		mu.Lock()
		defer mu.Unlock()
		for uint64(len(digests)) <= seq {
			more.Wait()
		}
		return digests[seq]
	}

	var entries, deltas atomic.Int64
	errs := make(chan error, clients)
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range clients {
		bin, delta := n%3 != 0, n%3 == 2
		s := dialSub(t, srv.Addr(), bin)
		time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond) // random moments: pacing, not synchronisation
		go func() { errs <- follow(s, topic, bin, delta, total, digestAt, &entries, &deltas) }()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	<-published
	if entries.Load() == 0 || deltas.Load() == 0 {
		t.Errorf("%d snapshot entries, %d deltas: the test did not exercise them", entries.Load(), deltas.Load())
	}
	t.Logf("%d clients, %d snapshot entries, %d deltas applied", clients, entries.Load(), deltas.Load())
}

// follow subscribes with a snapshot and checks the view against the
// publisher's digests up to seq last.
func follow(s *sub, topic string, bin, delta bool, last uint64, digestAt func(uint64) stateHash, entries, deltas *atomic.Int64) error {
	req := map[string]any{"op": "subscribe", "topic": topic, "snapshot": true}
	if delta {
		req["delta"] = "fossil"
	}
	b, _ := json.Marshal(req)
	if err := writeText(s, b); err != nil {
		return err
	}
	e, err := s.next(10 * time.Second)
	if err != nil || e.Op != "subscribed" || e.Snapshot == nil {
		return fmt.Errorf("subscribe: %+v %v", e, err)
	}
	pos, n := e.Seq, *e.Snapshot
	entries.Add(int64(n))
	v := view{vals: make(map[string][]byte)}
	for range n {
		e, err := s.next(10 * time.Second)
		if err != nil || e.Kind != "snapshot" || e.Seq > pos {
			return fmt.Errorf("snapshot entry: %+v %v", e, err)
		}
		v.set(e.Key, []byte(e.Data))
	}
	if want := digestAt(pos); v.hash != want {
		return fmt.Errorf("bin=%v delta=%v: the snapshot at %d (%d keys) differs from the publisher's state", bin, delta, pos, n)
	}
	for seq := pos + 1; seq <= last; seq++ {
		e, err := s.next(10 * time.Second)
		if err != nil || e.Op != "msg" || e.Seq != seq {
			return fmt.Errorf("bin=%v delta=%v: at %d: %+v %v", bin, delta, seq, e, err)
		}
		switch e.Kind {
		case "":
			v.set(e.Key, []byte(e.Data))
		case "delta":
			full, err := fossil.Apply(v.vals[e.Key], []byte(e.Data))
			if err != nil {
				return fmt.Errorf("delta at %d: %v", seq, err)
			}
			v.set(e.Key, full)
			deltas.Add(1)
		case "delete":
			v.del(e.Key)
		case "event":
		default:
			return fmt.Errorf("at %d: kind %q", seq, e.Kind)
		}
		if want := digestAt(seq); v.hash != want {
			return fmt.Errorf("bin=%v delta=%v: the view at %d differs from the publisher's state", bin, delta, seq)
		}
	}
	return nil
}

// writeText sends a text message from any goroutine.
func writeText(s *sub, b []byte) error { return wsutil.WriteClientText(s.conn, b) }

// TestSnapshotRecoveryAndBounds: a recovery that cannot be filled answers
// "recovery":"snapshot" with the snapshot; one that can replays without
// it; deltas need the binary form and a snapshot; a topic's keys are
// bounded (ErrTooManyKeys) and deletes make room.
func TestSnapshotRecoveryAndBounds(t *testing.T) {
	hub := pubsub.New(pubsub.WithMaxKeys(2))
	srv := pubsubtest.Start(t, hub)
	for _, kv := range [][2]string{{"a", `1`}, {"b", `2`}, {"a", `3`}} {
		if _, err := hub.Publish("t", kv[0], []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hub.Publish("t", "c", []byte(`4`)); !errors.Is(err, pubsub.ErrTooManyKeys) {
		t.Fatalf("a third key: %v, want ErrTooManyKeys", err)
	}
	if _, err := hub.PublishKind("t", pubsub.Delete, "b", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Publish("t", "c", []byte(`5`)); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	s := dialSub(t, srv.Addr(), false)
	e := s.subscribe("t", map[string]any{"snapshot": true, "since": map[string]any{"epoch": "0000000000000001", "seq": 1}})
	if e.Recovery != "snapshot" || e.Seq != 5 || e.Snapshot == nil || *e.Snapshot != 2 {
		t.Fatalf("answer: %+v", e)
	}
	for _, want := range []string{"a=3@3", "c=5@5"} {
		if e := s.must(5 * time.Second); fmt.Sprintf("%s=%s@%d", e.Key, e.Data, e.Seq) != want || e.Kind != "snapshot" {
			t.Errorf("snapshot entry %+v, want %s", e, want)
		}
	}
	r := dialSub(t, srv.Addr(), false)
	e = r.subscribe("t", map[string]any{"snapshot": true, "since": map[string]any{"epoch": e.Epoch, "seq": 3}})
	if e.Recovery != "ok" || e.Snapshot != nil {
		t.Fatalf("recoverable: %+v", e)
	}
	if e := r.must(5 * time.Second); e.Seq != 4 || e.Kind != "delete" || e.Key != "b" {
		t.Errorf("replay: %+v", e)
	}
	for _, tc := range []struct {
		bin   bool
		extra map[string]any
	}{
		{false, map[string]any{"snapshot": true, "delta": "fossil"}},
		{true, map[string]any{"delta": "fossil"}},
		{true, map[string]any{"snapshot": true, "delta": "fossil", "conflate": true}},
		{true, map[string]any{"snapshot": true, "delta": "xdelta"}},
	} {
		c := dialSub(t, srv.Addr(), tc.bin)
		req := map[string]any{"op": "subscribe", "topic": "t", "id": 9}
		for k, v := range tc.extra {
			req[k] = v
		}
		c.send(req)
		if e := c.must(5 * time.Second); e.Op != "error" || e.Code != "bad_request" {
			t.Errorf("bin=%v %v: %+v, want bad_request", tc.bin, tc.extra, e)
		}
	}
}
