package pubsub_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsflate"

	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// TestHubOrderAndNoLoss: subscribers of both wire forms get every
// publication of their topic exactly once, with strictly increasing
// sequence numbers after the position their "subscribed" gave, while two
// topics are published concurrently.
func TestHubOrderAndNoLoss(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)
	const perTopic = 2000
	topics := []string{"md.AAPL", "md.MSFT"}
	type result struct {
		name string
		err  error
	}
	results := make(chan result, 40)
	var subs []*sub
	for i := 0; i < 20; i++ {
		s := dialSub(t, srv.Addr(), i%2 == 1)
		for _, tp := range topics {
			if e := s.subscribe(tp, nil); e.Seq != 0 {
				t.Fatalf("fresh topic: subscribed at seq %d, want 0", e.Seq)
			}
		}
		subs = append(subs, s)
	}
	for i, s := range subs {
		go func() {
			last := map[string]uint64{}
			epoch := map[string]string{}
			for n := 0; n < perTopic*len(topics); n++ {
				e, err := s.next(10 * time.Second)
				if err != nil {
					results <- result{fmt.Sprint(i), fmt.Errorf("after %d messages: %w", n, err)}
					return
				}
				if e.Op != "msg" || (epoch[e.Topic] != "" && epoch[e.Topic] != e.Epoch) || e.Seq != last[e.Topic]+1 {
					results <- result{fmt.Sprint(i), fmt.Errorf("message %d: %+v after seq %d", n, e, last[e.Topic])}
					return
				}
				var d struct{ I int }
				if err := json.Unmarshal(e.Data, &d); err != nil || uint64(d.I) != e.Seq {
					results <- result{fmt.Sprint(i), fmt.Errorf("data %s for seq %d", e.Data, e.Seq)}
					return
				}
				last[e.Topic], epoch[e.Topic] = e.Seq, e.Epoch
			}
			results <- result{fmt.Sprint(i), nil}
		}()
	}
	var wg sync.WaitGroup
	for _, tp := range topics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= perTopic; i++ {
				if pos, err := hub.Publish(tp, "", payload(i)); err != nil || pos.Seq != uint64(i) {
					t.Errorf("publish %d: %v %v", i, pos, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for range subs {
		if r := <-results; r.err != nil {
			t.Errorf("subscriber %s: %v", r.name, r.err)
		}
	}
	st := hub.Stats()
	if st.Publishes != perTopic*2 || st.Deliveries != perTopic*2*20 {
		t.Errorf("stats %+v: want %d publishes and %d deliveries", st, perTopic*2, perTopic*2*20)
	}
}

// TestHubRecovery: clients whose connections are killed mid-stream
// resubscribe with their last position and get exactly the messages they
// missed, then live ones; beyond the history window (or from another
// epoch) they get "recovery failed".
func TestHubRecovery(t *testing.T) {
	hub := pubsub.New(pubsub.WithHistory(100, 0))
	srv := pubsubtest.Start(t, hub)
	const topic = "md.BTC"
	pub := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := hub.Publish(topic, "", payload(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, bin := range []bool{false, true} {
		s := dialSub(t, srv.Addr(), bin)
		ans := s.subscribe(topic, nil)
		base := ans.Seq
		pub(int(base)+1, int(base)+10)
		var last event
		for i := 0; i < 10; i++ {
			last = s.must(5 * time.Second)
		}
		// The connection dies; 50 more messages are published meanwhile.
		_ = s.conn.Close()
		pub(int(base)+11, int(base)+60)
		s = dialSub(t, srv.Addr(), bin)
		ans = s.subscribe(topic, since(last.Epoch, last.Seq))
		if ans.Recovery != "ok" || ans.Seq != last.Seq || ans.Epoch != last.Epoch {
			t.Fatalf("bin=%v: recovery answer %+v, want ok at %d", bin, ans, last.Seq)
		}
		live := make(chan struct{})
		go func() { // live ones right behind the replay
			defer close(live)
			for i := int(base) + 61; i <= int(base)+70; i++ {
				if _, err := hub.Publish(topic, "", payload(i)); err != nil {
					t.Error(err)
				}
			}
		}()
		for want := last.Seq + 1; want <= base+70; want++ {
			e := s.must(5 * time.Second)
			if e.Seq != want {
				t.Fatalf("bin=%v: got seq %d, want %d", bin, e.Seq, want)
			}
		}
		<-live
	}
	// Beyond the window: 100 kept, the client is 150 behind.
	s := dialSub(t, srv.Addr(), false)
	ans := s.subscribe(topic, nil)
	pub(int(ans.Seq)+1, int(ans.Seq)+150)
	s2 := dialSub(t, srv.Addr(), false)
	got := s2.subscribe(topic, since(ans.Epoch, ans.Seq))
	if got.Recovery != "failed" || got.Seq != ans.Seq+150 {
		t.Errorf("recovery beyond the history: %+v, want failed at %d", got, ans.Seq+150)
	}
	s3 := dialSub(t, srv.Addr(), false)
	if got := s3.subscribe(topic, since("0123456789abcdef", 1)); got.Recovery != "failed" {
		t.Errorf("recovery from another epoch: %+v, want failed", got)
	}
	s4 := dialSub(t, srv.Addr(), false)
	if got := s4.subscribe(topic, since(ans.Epoch, ans.Seq+1000)); got.Recovery != "failed" {
		t.Errorf("recovery from the future: %+v, want failed", got)
	}
	st := hub.Stats()
	if st.RecoveriesOK != 2 || st.RecoveriesFailed != 3 {
		t.Errorf("stats %+v: want 2 recoveries ok, 3 failed", st)
	}
}

// TestHubRecoveryAfterLastSubscriberLeft: the broker keeps the history of
// a topic nobody here subscribes to any more.
func TestHubRecoveryAfterLastSubscriberLeft(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)
	s := dialSub(t, srv.Addr(), false)
	ans := s.subscribe("fx.EURUSD", nil)
	_ = s.conn.Close()
	waitUntil(t, "the subscription to end", func() bool { return hub.Stats().Subscriptions == 0 && hub.Stats().Topics == 0 })
	for i := 1; i <= 5; i++ {
		if _, err := hub.Publish("fx.EURUSD", "", payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	s = dialSub(t, srv.Addr(), false)
	if got := s.subscribe("fx.EURUSD", since(ans.Epoch, 0)); got.Recovery != "ok" {
		t.Fatalf("recovery: %+v", got)
	}
	for i := uint64(1); i <= 5; i++ {
		if e := s.must(5 * time.Second); e.Seq != i {
			t.Fatalf("replayed seq %d, want %d", e.Seq, i)
		}
	}
}

// TestHubUnsubscribe: the answer comes after the last message, and none
// follows.
func TestHubUnsubscribe(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub)
	s := dialSub(t, srv.Addr(), false)
	s.subscribe("a", nil)
	s.subscribe("b", nil)
	if _, err := hub.Publish("a", "", payload(1)); err != nil {
		t.Fatal(err)
	}
	s.send(map[string]any{"op": "unsubscribe", "topic": "a", "id": "u1"})
	if e := s.must(5 * time.Second); e.Op != "msg" || e.Seq != 1 {
		t.Fatalf("got %+v, want message 1 first", e)
	}
	if e := s.must(5 * time.Second); e.Op != "unsubscribed" || e.Topic != "a" || string(e.ID) != `"u1"` {
		t.Fatalf("got %+v, want the unsubscribe answer", e)
	}
	_, _ = hub.Publish("a", "", payload(2))
	_, _ = hub.Publish("b", "", payload(1))
	if e := s.must(5 * time.Second); e.Topic != "b" {
		t.Fatalf("got %+v after unsubscribing from a", e)
	}
	s.send(map[string]any{"op": "unsubscribe", "topic": "a"})
	if e := s.must(5 * time.Second); e.Op != "error" || e.Code != "not_subscribed" {
		t.Fatalf("second unsubscribe: %+v", e)
	}
}

// TestHubProtocolErrors: every invalid request gets an error answer; past
// the limit the connection is closed with 1008; others are unaffected.
func TestHubProtocolErrors(t *testing.T) {
	hub := pubsub.New(pubsub.WithMaxErrors(6), pubsub.WithMaxSubscriptions(2))
	srv := pubsubtest.Start(t, hub)
	good := dialSub(t, srv.Addr(), false)
	good.subscribe("t", nil)
	s := dialSub(t, srv.Addr(), false)
	cases := []struct {
		req  any
		code string
	}{
		{map[string]any{"op": "subscrib", "topic": "x"}, "bad_request"},
		{map[string]any{"op": "subscribe", "topic": "bad topic"}, "bad_topic"},
		{map[string]any{"op": "subscribe", "topic": "x", "since": map[string]any{"epoch": "zz", "seq": 1}}, "bad_position"},
		{map[string]any{"op": "subscribe", "topic": "x", "id": map[string]any{}}, "bad_request"},
	}
	for _, tc := range cases {
		s.send(tc.req)
		if e := s.must(5 * time.Second); e.Op != "error" || e.Code != tc.code {
			t.Errorf("%v: got %+v, want error %s", tc.req, e, tc.code)
		}
	}
	s.subscribe("p", nil)
	s.subscribe("q", nil)
	s.send(map[string]any{"op": "subscribe", "topic": "r"})
	if e := s.must(5 * time.Second); e.Code != "too_many_subscriptions" {
		t.Errorf("third subscription: %+v", e)
	}
	// The sixth error closes the connection.
	s.send("not an object")
	if e := s.must(5 * time.Second); e.Code != "bad_request" {
		t.Errorf("got %+v", e)
	}
	var ce *closed
	if _, err := s.next(5 * time.Second); !errors.As(err, &ce) || ce.code != 1008 {
		t.Errorf("after 6 errors: %v, want close 1008", err)
	}
	if _, err := hub.Publish("t", "", payload(1)); err != nil {
		t.Fatal(err)
	}
	if e := good.must(5 * time.Second); e.Seq != 1 {
		t.Errorf("well-behaved subscriber got %+v", e)
	}
	if got := hub.Stats().ProtocolErrors; got != 6 {
		t.Errorf("protocol errors counted %d, want 6", got)
	}
	if _, err := hub.Publish("bad topic", "", nil); !errors.Is(err, pubsub.ErrBadTopic) {
		t.Errorf("publish to a bad topic: %v", err)
	}
}

// TestHubGoAPI: Subscribe from a Handler of one's own.
func TestHubGoAPI(t *testing.T) {
	hub := pubsub.New()
	opened := make(chan *server.Conn, 1)
	h := server.HandlerFuncs{
		Open:   func(c *server.Conn) { opened <- c },
		Closed: func(c *server.Conn, _ error) { hub.Forget(c) },
	}
	srv := server.New(h, server.WithSubprotocols(pubsub.SubprotocolJSON))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(t.Context()) }()
	s := dialSub(t, srv.Addr(), false)
	c := <-opened
	pos, rec, err := hub.Subscribe(c, "news", pubsub.SubscribeOptions{})
	if err != nil || rec != pubsub.RecoveryNone || pos.Seq != 0 {
		t.Fatalf("Subscribe: %v %v %v", pos, rec, err)
	}
	if _, _, err := hub.Subscribe(c, "news", pubsub.SubscribeOptions{}); !errors.Is(err, pubsub.ErrAlreadySubscribed) {
		t.Errorf("second Subscribe: %v", err)
	}
	_, _ = hub.Publish("news", "k", []byte("plain text"))
	e := s.must(5 * time.Second)
	if e.Op != "msg" || e.Key != "k" || string(e.Data) != `"plain text"` {
		t.Errorf("got %+v, want the text as a JSON string", e)
	}
	_ = s.conn.Close()
	waitUntil(t, "Forget on close", func() bool { return hub.Stats().Subscriptions == 0 })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHubCompressedSubscribers: subscribers that negotiated
// permessage-deflate get publications compressed (RSV1), others plain,
// both decoding to the same messages.
func TestHubCompressedSubscribers(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub, server.WithCompression(1, 64))
	zipped := dialSubWith(t, srv.Addr(), false, nil, wsflate.DefaultParameters.Option())
	plain := dialSub(t, srv.Addr(), false)
	zipped.subscribe("news", nil)
	plain.subscribe("news", nil)
	long := `{"text":"` + strings.Repeat("compressible ", 40) + `"}`
	for i := 0; i < 20; i++ {
		if _, err := hub.Publish("news", "", []byte(long)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*sub{zipped, plain} {
		for i := uint64(1); i <= 20; i++ {
			e := s.must(5 * time.Second)
			if e.Seq != i || string(e.Data) != long {
				t.Fatalf("seq %d: got %+v", i, e)
			}
		}
	}
	if zipped.compressed < 20 || plain.compressed != 0 { // the answer may be compressed too
		t.Errorf("compressed messages: %d with deflate, %d without; want 20 and 0", zipped.compressed, plain.compressed)
	}
}
