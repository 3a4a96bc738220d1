package natsbroker

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/wsloop/wsloop/pubsub"
)

// fold is the keyed state after msgs (in sequence order) up to seq.
func fold(msgs []pubsub.Message, seq uint64) map[string]string {
	state := make(map[string]string)
	for _, m := range msgs {
		if m.Seq > seq {
			break
		}
		if m.Key == "" {
			continue
		}
		switch m.Kind {
		case pubsub.Update, 0:
			state[m.Key] = string(m.Data)
		case pubsub.Delete:
			delete(state, m.Key)
		}
	}
	return state
}

// snapshotState takes a snapshot of topic on b and checks its form: in
// sequence order, Updates only, at or before its position.
func snapshotState(t *testing.T, b pubsub.Broker, topic string) (map[string]string, pubsub.Position) {
	t.Helper()
	sn, ok := b.(pubsub.Snapshotter)
	if !ok {
		t.Fatalf("%T is not a pubsub.Snapshotter", b)
	}
	msgs, pos, err := sn.Snapshot(topic)
	if err != nil {
		t.Fatalf("Snapshot(%q): %v", topic, err)
	}
	state := make(map[string]string, len(msgs))
	for i, m := range msgs {
		if m.Kind != pubsub.Update || m.Epoch != pos.Epoch || m.Seq > pos.Seq || (i > 0 && m.Seq <= msgs[i-1].Seq) || m.Topic != topic {
			t.Fatalf("snapshot at %+v: entry %d is %+v", pos, i, m)
		}
		state[m.Key] = string(m.Data)
	}
	return state, pos
}

func publishKind(t testing.TB, b pubsub.Broker, topic string, kind pubsub.Kind, key, data string) pubsub.Position {
	t.Helper()
	kp, ok := b.(pubsub.KindPublisher)
	if !ok {
		t.Fatalf("%T is not a pubsub.KindPublisher", b)
	}
	p, err := kp.PublishKind(topic, kind, key, []byte(data))
	if err != nil {
		t.Fatalf("PublishKind(%q, %v, %q): %v", topic, kind, key, err)
	}
	return p
}

// testSnapshot: a snapshot is the latest Update of every key not deleted
// since, at the topic's latest position, the same on every node; kinds
// come back as published, live and from history.
func testSnapshot(t *testing.T, sys system) {
	node := sys.deploy(t, 1000, 0)
	b := node()
	if st, pos := snapshotState(t, b, "book"); len(st) != 0 || pos.Seq != 0 || pos.Epoch == 0 {
		t.Fatalf("new topic: %v at %+v", st, pos)
	}
	r, cancel := subscribe(t, b, "book")
	defer cancel()
	publish(t, b, "book", "", "no key")
	publishKind(t, b, "book", pubsub.Update, "b1", "100")
	publishKind(t, b, "book", pubsub.Update, "b2", "99")
	publishKind(t, b, "book", pubsub.Event, "b1", "trade")
	publishKind(t, b, "book", pubsub.Update, "b1", "101")
	publishKind(t, b, "book", pubsub.Delete, "b2", "")
	last := publishKind(t, b, "book", pubsub.Update, "a 3", "98")
	live := r.wait(7, patience)
	kinds := []pubsub.Kind{pubsub.Update, pubsub.Update, pubsub.Update, pubsub.Event, pubsub.Update, pubsub.Delete, pubsub.Update}
	hist, _, err := b.History("book", pubsub.Position{Epoch: last.Epoch})
	if err != nil || len(hist) != 7 {
		t.Fatalf("history: %d messages, %v", len(hist), err)
	}
	for i, k := range kinds {
		if live[i].Kind != k || hist[i].Kind != k {
			t.Errorf("message %d: kind %v live, %v in history; want %v", i+1, live[i].Kind, hist[i].Kind, k)
		}
	}
	want := map[string]string{"b1": "101", "a 3": "98"}
	for n := range 2 {
		st, pos := snapshotState(t, node(), "book")
		if pos != last || !maps.Equal(st, want) {
			t.Fatalf("node %d: snapshot %v at %+v, want %v at %+v", n, st, pos, want, last)
		}
	}
	for _, bad := range []struct {
		kind pubsub.Kind
		key  string
	}{{pubsub.Delete, ""}, {pubsub.Update, strings.Repeat("k", 256)}} {
		if _, err := b.(pubsub.KindPublisher).PublishKind("book", bad.kind, bad.key, nil); err != pubsub.ErrBadKey {
			t.Errorf("PublishKind(%v, %d-byte key): %v, want ErrBadKey", bad.kind, len(bad.key), err)
		}
	}
}

// testSnapshotUnderLoad: while several publishers update and delete keys
// through different nodes, snapshots taken at random moments on every
// node equal the state folded from every message up to their position.
func testSnapshotUnderLoad(t *testing.T, sys system) {
	node := sys.deploy(t, 1000, 0)
	b := node()
	const topic, keys, publishers, each = "md.book", 50, 3, 300
	r, cancel := subscribe(t, b, topic)
	defer cancel()
	var wg sync.WaitGroup
	for p := range publishers {
		pb := node()
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			for i := range each {
				key := fmt.Sprintf("L%02d", rng.IntN(keys))
				kind, data := pubsub.Update, fmt.Sprintf("p%d-%d", p, i)
				switch rng.IntN(10) {
				case 0:
					kind, data = pubsub.Delete, ""
				case 1:
					kind = pubsub.Event
				}
				publishKind(t, pb, topic, kind, key, data)
			}
		})
	}
	type shot struct {
		state map[string]string
		pos   pubsub.Position
	}
	var shots []shot
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	nodes := []pubsub.Broker{b, node()}
	for i := 0; ; i++ {
		st, pos := snapshotState(t, nodes[i%2], topic)
		shots = append(shots, shot{st, pos})
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	st, pos := snapshotState(t, node(), topic)
	shots = append(shots, shot{st, pos})
	msgs := r.wait(publishers*each, patience)
	checkSeqs(t, msgs, msgs[0].Epoch, 1)
	mid := 0
	for _, s := range shots {
		if s.pos.Seq > 0 && s.pos.Seq < publishers*each {
			mid++
		}
		if want := fold(msgs, s.pos.Seq); !maps.Equal(s.state, want) {
			t.Fatalf("snapshot at %+v: %d keys, differs from the %d folded from the messages", s.pos, len(s.state), len(want))
		}
	}
	if pos.Seq != publishers*each || mid == 0 {
		t.Fatalf("last snapshot at %+v, %d of %d snapshots taken during the publishing", pos, mid, len(shots))
	}
	t.Logf("%d snapshots checked, %d during the publishing", len(shots), mid)
}
