package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsloop/wsloop/internal/natstest"
	"github.com/wsloop/wsloop/pubsub"
)

// jsClient is a plain JetStream client of url, to act behind the brokers'
// backs as an operator would.
func jsClient(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestEpochChangesWhenStreamRecreated deletes a topic's stream under two
// nodes: the next publish starts a new epoch at 1, the subscribed node
// follows into it, and positions of the old epoch no longer recover.
func TestEpochChangesWhenStreamRecreated(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	prefix := uniquePrefix()
	a, b := connect(t, url, WithPrefix(prefix)), connect(t, url, WithPrefix(prefix))
	r, cancel := subscribe(t, b, "re.created")
	defer cancel()
	var old pubsub.Position
	for range 3 {
		old = publish(t, a, "re.created", "", "old")
	}
	r.wait(3, patience)

	ctx, stop := context.WithTimeout(context.Background(), patience)
	defer stop()
	if err := jsClient(t, url).DeleteStream(ctx, streamName(prefix, "re.created")); err != nil {
		t.Fatal(err)
	}
	p := publish(t, a, "re.created", "", "new")
	if p.Epoch == old.Epoch || p.Seq != 1 {
		t.Fatalf("first message after the stream was recreated at %+v, before %+v", p, old)
	}
	msgs := r.wait(4, patience)
	checkSeqs(t, msgs[:3], old.Epoch, 1)
	if msgs[3].Position != p || string(msgs[3].Data) != "new" {
		t.Fatalf("subscriber got %+v after the recreation, want the message at %+v", msgs[3], p)
	}
	for _, n := range []*Broker{a, b} {
		if _, last, err := n.History("re.created", old); !errors.Is(err, pubsub.ErrRecoveryFailed) || last != p {
			t.Fatalf("recovery from the old epoch: %+v, %v", last, err)
		}
	}
	if q := publish(t, b, "re.created", "", "next"); q.Epoch != p.Epoch || q.Seq != 2 {
		t.Fatalf("other node publishes at %+v after %+v", q, p)
	}
}

// TestServerRestart restarts the NATS server on the same storage: epochs
// and history survive, and a subscription carries on without a gap or a
// duplicate once the broker has reconnected.
func TestServerRestart(t *testing.T) {
	dir, port := t.TempDir(), natstest.FreePort(t)
	s := natstest.Start(t, dir, port)
	url := s.ClientURL()
	b := connect(t, url, WithNATSOptions(nats.ReconnectWait(50*time.Millisecond)))
	r, cancel := subscribe(t, b, "restart")
	defer cancel()
	var p pubsub.Position
	for i := range 3 {
		p = publish(t, b, "restart", "", fmt.Sprint(i))
	}
	r.wait(3, patience)
	s.Shutdown()
	s.WaitForShutdown()
	natstest.Start(t, dir, port)

	deadline := time.Now().Add(patience)
	for !b.nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("broker did not reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 3; i < 6; i++ {
		q := publish(t, b, "restart", "", fmt.Sprint(i))
		if q.Epoch != p.Epoch || q.Seq != uint64(i+1) {
			t.Fatalf("after the restart, message at %+v; before %+v", q, p)
		}
	}
	msgs := r.wait(6, patience)
	checkSeqs(t, msgs, p.Epoch, 1)
	time.Sleep(100 * time.Millisecond)
	if n := len(r.got()); n != 6 {
		t.Fatalf("%d messages, want 6", n)
	}
	other := connect(t, url)
	if msgs, _, err := other.History("restart", pubsub.Position{Epoch: p.Epoch}); err != nil || len(msgs) != 6 {
		t.Fatalf("history after the restart: %d messages, %v", len(msgs), err)
	}
}

// TestFeedReopens makes a topic's consumer fail while messages flow, both
// from inside (as when a delivery goes missing) and by deleting it on the
// server: every message still arrives once, in order.
func TestFeedReopens(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	b := connect(t, url)
	js := jsClient(t, url)
	r, cancel := subscribe(t, b, "flaky")
	defer cancel()
	f := b.topic("flaky").feed.Load()

	const n = 600
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if _, err := b.Publish("flaky", "", []byte(fmt.Sprint(i))); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := range 6 {
		r.wait(100*i+50, patience)
		f.mu.Lock()
		g := f.gen
		f.mu.Unlock()
		if g == nil {
			continue
		}
		if i%2 == 0 {
			g.fail()
			continue
		}
		ctx, stop := context.WithTimeout(context.Background(), patience)
		if err := js.DeleteConsumer(ctx, g.f.t.stream, g.name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Error(err)
		}
		stop()
	}
	wg.Wait()
	msgs := r.wait(n, patience)
	checkSeqs(t, msgs, msgs[0].Epoch, 1)
	for i, m := range msgs {
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Data)
		}
	}
}

// TestHistoryOneByOne runs the history table through the path for servers
// without batched direct gets (before NATS 2.11).
func TestHistoryOneByOne(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	testHistory(t, system{deploy: func(t *testing.T, n int, ttl time.Duration) func() pubsub.Broker {
		return func() pubsub.Broker {
			b := connect(t, url, WithPrefix(uniquePrefix()), WithHistory(n, ttl))
			b.noBatch.Store(true)
			return b
		}
	}})
}

// TestWindowOfTheStream: the history window is the one the topic's
// stream was created with, whichever node asks.
func TestWindowOfTheStream(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	a := connect(t, url, WithHistory(5, 0))
	b := connect(t, url, WithHistory(100, 0))
	var last pubsub.Position
	for i := range 10 {
		last = publish(t, a, "w", "", fmt.Sprint(i))
	}
	for _, n := range []*Broker{a, b} {
		if msgs, _, err := n.History("w", pubsub.Position{Epoch: last.Epoch, Seq: 5}); err != nil || len(msgs) != 5 {
			t.Fatalf("within the window: %d messages, %v", len(msgs), err)
		}
		if _, _, err := n.History("w", pubsub.Position{Epoch: last.Epoch, Seq: 4}); !errors.Is(err, pubsub.ErrRecoveryFailed) {
			t.Fatalf("beyond the window: %v", err)
		}
	}
}

func TestPrefixesAreSeparate(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	a, b := connect(t, url, WithPrefix("one")), connect(t, url, WithPrefix("two"))
	publish(t, a, "same", "", "a")
	if p := publish(t, b, "same", "", "b"); p.Seq != 1 {
		t.Fatalf("other prefix shares the topic: %+v", p)
	}
	for _, p := range []string{"", "a.b", "a b", "a*", strings.Repeat("p", 33)} {
		if b, err := Connect(url, WithPrefix(p)); err == nil {
			b.Close()
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func TestConnectNeedsJetStream(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(patience) {
		t.Fatal("nats-server did not start")
	}
	if b, err := Connect(s.ClientURL(), WithTimeout(time.Second)); err == nil {
		b.Close()
		t.Fatal("Connect succeeded without JetStream")
	}
}

func TestTooLarge(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	b := connect(t, url)
	if _, err := b.Publish("big", "", make([]byte, 2<<20)); !errors.Is(err, pubsub.ErrTooLarge) {
		t.Fatalf("2 MiB publish: %v", err)
	}
}

func TestStreamNames(t *testing.T) {
	seen := map[string]string{}
	for _, topic := range []string{"AAPL", "aapl", "a.b", "a_b", "a-b", "x:y/z", "€", strings.Repeat("L", 100), strings.Repeat("L", 101), strings.Repeat("L", 255)} {
		name := streamName("wsloop", topic)
		if len(name) > 200 || strings.ContainsAny(name, ". *>/\\\t") || name != strings.ToLower(name) {
			t.Errorf("%q: stream name %q", topic, name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("%q and %q share stream %q", topic, other, name)
		}
		seen[name] = topic
	}
}

func TestKeyEncoding(t *testing.T) {
	for c := range 256 {
		key := " a" + string([]byte{byte(c)}) + "%zz%4 "
		enc := encodeKey(key)
		if strings.ContainsFunc(enc, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			t.Fatalf("%q encoded as %q", key, enc)
		}
		if got := decodeKey(enc); got != key {
			t.Fatalf("%q encoded as %q decodes to %q", key, enc, got)
		}
	}
	if enc := encodeKey("AAPL"); enc != "AAPL" {
		t.Fatalf("plain key encoded as %q", enc)
	}
}
