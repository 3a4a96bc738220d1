package pubsub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
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

// snapshotClientsEnv sets how many clients TestSnapshotConsistency and
// TestSnapshotConsistencyNATS hold (default 60, following 12,000
// messages); the acceptance run holds 1,000, following 60,000:
//
//	WSLOOP_SNAPSHOT_CLIENTS=1000 go test -count=1 -v -run TestSnapshotConsistency ./pubsub/
const snapshotClientsEnv = "WSLOOP_SNAPSHOT_CLIENTS"

// TestSnapshotConsistency: while a publisher updates (and sometimes
// deletes) 1,000 keys at about 10,000 messages a second, with trades in
// between, clients subscribe with snapshots at random moments, in the
// JSON form, the binary form and the binary form with Fossil deltas; each
// client's view (snapshot, then every message applied) equals the
// publisher's state at its snapshot's position and at every sequence
// number after it. TestSnapshotConsistencyNATS runs it on two nodes
// through NATS, and kills one.
func TestSnapshotConsistency(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)
	checkSnapshotConsistency(t, hub.PublishKind, []string{srv.Addr()}, nil)
}

// checkSnapshotConsistency runs the consistency check: publish must give
// topic "md.book" the positions 1, 2, 3…; client n starts on addrs[n %
// len(addrs)]. kill, when set, is called once half the messages are
// published and returns the index of the address it took down: that
// address's clients resubscribe on the next one from their last
// position, with a snapshot, and go on checking.
func checkSnapshotConsistency(t *testing.T, publish func(string, pubsub.Kind, string, []byte) (pubsub.Position, error), addrs []string, kill func() int) {
	const (
		topic = "md.book"
		keys  = 1000
	)
	clients, total := 60, 12000
	if v := os.Getenv(snapshotClientsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", snapshotClientsEnv, v)
		}
		clients, total = n, max(total, 60*n)
	}
	// The publisher's digest after every sequence number.
	var mu sync.Mutex
	more := sync.NewCond(&mu)
	digests := make([]stateHash, 1, total+1)
	pub := view{vals: make(map[string][]byte)}
	published := make(chan uint64, 1)
	half := make(chan struct{})
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
			if i == total/2 {
				close(half)
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
			pos, err := publish(topic, kind, key, data)
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
		published <- uint64(total)
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
	killed := make(chan int, 1)
	if kill != nil {
		go func() {
			<-half
			killed <- kill()
		}()
	}

	var c counts
	errs := make(chan error, clients)
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range clients {
		f := &follower{addrs: addrs, at: n % len(addrs), bin: n%3 != 0, delta: n%3 == 2, topic: topic, last: uint64(total), digestAt: digestAt, counts: &c}
		if err := f.dial(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.s.conn.Close() })
		// Random moments over the first half of the publishing: pacing,
		// not synchronisation.
		time.Sleep(time.Duration(rng.IntN(total/clients/8+1)) * time.Millisecond)
		go func() { errs <- f.run(kill != nil) }()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	<-published
	if c.entries.Load() == 0 || c.deltas.Load() == 0 {
		t.Errorf("%d snapshot entries, %d deltas: the test did not exercise them", c.entries.Load(), c.deltas.Load())
	}
	if kill != nil {
		if down := <-killed; c.moved.Load() == 0 {
			t.Errorf("node %d killed, no client moved", down)
		}
	}
	t.Logf("%d clients, %d snapshot entries, %d deltas applied, %d moved to another node (%d recovered, %d by snapshot)",
		clients, c.entries.Load(), c.deltas.Load(), c.moved.Load(), c.recovered.Load(), c.resnapped.Load())
}

// counts are what the followers of a consistency check exercised.
type counts struct {
	entries, deltas, moved, recovered, resnapped atomic.Int64
}

// follower is one client of the consistency check.
type follower struct {
	addrs      []string
	at         int
	bin, delta bool
	topic      string
	last       uint64 // the sequence number to follow to
	digestAt   func(uint64) stateHash
	*counts

	s     *sub
	epoch string
	seq   uint64 // the last position applied
	v     view
}

// dial connects to the follower's current address.
func (f *follower) dial() error {
	proto := pubsub.SubprotocolJSON
	if f.bin {
		proto = pubsub.SubprotocolBinary
	}
	d := ws.Dialer{Protocols: []string{proto}, Timeout: 5 * time.Second}
	conn, br, _, err := d.Dial(context.Background(), "ws://"+f.addrs[f.at]+"/")
	if err != nil {
		return fmt.Errorf("dial %s: %v", f.addrs[f.at], err)
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	f.s = &sub{conn: conn, r: br, bin: f.bin}
	return nil
}

// subscribe subscribes with a snapshot, from the last position if there
// is one, and applies the answer.
func (f *follower) subscribe() error {
	req := map[string]any{"op": "subscribe", "topic": f.topic, "snapshot": true}
	if f.delta {
		req["delta"] = "fossil"
	}
	if f.epoch != "" {
		req["since"] = map[string]any{"epoch": f.epoch, "seq": f.seq}
	}
	b, _ := json.Marshal(req)
	if err := writeText(f.s, b); err != nil {
		return err
	}
	e, err := f.s.next(10 * time.Second)
	if err != nil || e.Op != "subscribed" {
		return fmt.Errorf("subscribe: %+v %v", e, err)
	}
	if f.epoch != "" {
		switch {
		case e.Epoch != f.epoch:
			return fmt.Errorf("resubscribed in epoch %s after %s", e.Epoch, f.epoch)
		case e.Recovery == "ok" && e.Snapshot == nil:
			f.recovered.Add(1)
			return nil
		case e.Recovery == "snapshot" && e.Snapshot != nil:
			f.resnapped.Add(1)
		default:
			return fmt.Errorf("resubscribed: %+v", e)
		}
	}
	if e.Snapshot == nil {
		return fmt.Errorf("no snapshot: %+v", e)
	}
	f.epoch, f.seq = e.Epoch, e.Seq
	n := *e.Snapshot
	f.entries.Add(int64(n))
	f.v = view{vals: make(map[string][]byte)}
	for range n {
		e, err := f.s.next(10 * time.Second)
		if err != nil || e.Kind != "snapshot" || e.Seq > f.seq {
			return fmt.Errorf("snapshot entry: %+v %v", e, err)
		}
		f.v.set(e.Key, []byte(e.Data))
	}
	if want := f.digestAt(f.seq); f.v.hash != want {
		return fmt.Errorf("bin=%v delta=%v: the snapshot at %d (%d keys) differs from the publisher's state", f.bin, f.delta, f.seq, n)
	}
	return nil
}

// run follows the topic to f.last; with move, a connection that ends
// moves to the next address once.
func (f *follower) run(move bool) error {
	if err := f.subscribe(); err != nil {
		return err
	}
	for f.seq < f.last {
		e, err := f.s.next(10 * time.Second)
		if err != nil {
			var c *closed
			if !move || !(errors.As(err, &c) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				return fmt.Errorf("bin=%v delta=%v: after %d: %v", f.bin, f.delta, f.seq, err)
			}
			_ = f.s.conn.Close()
			move = false
			f.at = (f.at + 1) % len(f.addrs)
			f.moved.Add(1)
			if err := f.dial(); err != nil {
				return err
			}
			if err := f.subscribe(); err != nil {
				return err
			}
			continue
		}
		if e.Op != "msg" || e.Seq != f.seq+1 {
			return fmt.Errorf("bin=%v delta=%v: after %d: %+v", f.bin, f.delta, f.seq, e)
		}
		f.seq = e.Seq
		switch e.Kind {
		case "":
			f.v.set(e.Key, []byte(e.Data))
		case "delta":
			full, err := fossil.Apply(f.v.vals[e.Key], []byte(e.Data))
			if err != nil {
				return fmt.Errorf("delta at %d: %v", f.seq, err)
			}
			f.v.set(e.Key, full)
			f.deltas.Add(1)
		case "delete":
			f.v.del(e.Key)
		case "event":
		default:
			return fmt.Errorf("at %d: kind %q", f.seq, e.Kind)
		}
		if want := f.digestAt(f.seq); f.v.hash != want {
			return fmt.Errorf("bin=%v delta=%v: the view at %d differs from the publisher's state", f.bin, f.delta, f.seq)
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
