package natsbroker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/pubsub"
)

// recorder is a subscription function that keeps copies of what it is
// given and checks that it is never called twice at once, nor after its
// subscription was cancelled.
type recorder struct {
	t        testing.TB
	inFlight atomic.Int32
	over     atomic.Bool // set once cancel returned

	mu   sync.Mutex
	msgs []pubsub.Message
}

func (r *recorder) fn(m pubsub.Message) {
	if r.inFlight.Add(1) != 1 {
		r.t.Errorf("%s: subscription called concurrently", m.Topic)
	}
	if r.over.Load() {
		r.t.Errorf("%s: subscription called after cancel returned (seq %d)", m.Topic, m.Seq)
	}
	m.Data = append([]byte(nil), m.Data...)
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.inFlight.Add(-1)
}

// subscribe subscribes a new recorder to topic on b.
func subscribe(t testing.TB, b pubsub.Broker, topic string) (*recorder, func()) {
	t.Helper()
	r := &recorder{t: t}
	cancel, err := b.Subscribe(topic, r.fn)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	return r, func() {
		cancel()
		r.over.Store(true)
	}
}

func (r *recorder) got() []pubsub.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pubsub.Message(nil), r.msgs...)
}

// wait returns the messages once there are at least n, failing the test
// after d.
func (r *recorder) wait(n int, d time.Duration) []pubsub.Message {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		msgs := r.got()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("got %d messages after %v, want %d", len(msgs), d, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkSeqs fails unless msgs are sequences from..from+len-1 of one epoch.
func checkSeqs(t testing.TB, msgs []pubsub.Message, epoch, from uint64) {
	t.Helper()
	for i, m := range msgs {
		if m.Epoch != epoch || m.Seq != from+uint64(i) {
			t.Fatalf("message %d at %+v, want {%x %d}", i, m.Position, epoch, from+uint64(i))
		}
	}
}
