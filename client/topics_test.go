package client_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/wire"
	"github.com/wsloop/wsloop/server"
)

// startHub serves a pubsub hub on addr until cleanup.
func startHub(t testing.TB, addr string, hopts []pubsub.Option, sopts ...server.Option) (*pubsub.Hub, *server.Server) {
	t.Helper()
	hub := pubsub.New(hopts...)
	sopts = append([]server.Option{server.WithSubprotocols(pubsub.SubprotocolJSON, pubsub.SubprotocolBinary)}, sopts...)
	srv := server.New(hub, sopts...)
	if err := srv.Start(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(srv); _ = hub.Close() })
	return hub, srv
}

// recorder checks a subscription's stream: every seq once, in order.
type recorder struct {
	mu       sync.Mutex
	t        testing.TB
	seqs     []uint64
	epochs   map[uint64]bool
	events   []client.SubscribeEvent
	gaps     int
	badData  int
	lastData string
}

// dialTopics dials addr's topic protocol in proto with a fast
// reconnection, and opts; the client is closed when the test ends.
func dialTopics(t testing.TB, addr, proto string, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{client.WithSubprotocols(proto), client.WithReconnect(5*time.Millisecond, 50*time.Millisecond)}, opts...)
	c, err := client.Dial(context.Background(), "ws://"+addr+"/", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (r *recorder) options() client.SubscribeOptions {
	return client.SubscribeOptions{
		OnPublication: func(_ *client.Client, p *client.Publication) {
			r.mu.Lock()
			defer r.mu.Unlock()
			seq := strconv.FormatUint(p.Seq, 10)
			if (string(p.Data) != seq && !strings.HasPrefix(string(p.Data), seq+"|")) || string(p.Key) != "k" {
				r.badData++
			}
			r.seqs = append(r.seqs, p.Seq)
			if r.epochs == nil {
				r.epochs = map[uint64]bool{}
			}
			r.epochs[p.Epoch] = true
		},
		OnSubscribed: func(_ *client.Client, ev client.SubscribeEvent) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, ev)
		},
		OnGap: func(*client.Client, string, client.Position, client.Position) {
			r.mu.Lock()
			r.gaps++
			r.mu.Unlock()
		},
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

func (r *recorder) lastEvent() (client.SubscribeEvent, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return client.SubscribeEvent{}, 0
	}
	return r.events[len(r.events)-1], len(r.events)
}

func TestTopicsRecoverAfterCut(t *testing.T) {
	for _, proto := range []string{client.SubprotocolBinary, client.SubprotocolJSON} {
		t.Run(proto, func(t *testing.T) {
			hub, srv := startHub(t, "127.0.0.1:0", []pubsub.Option{pubsub.WithHistory(100000, time.Minute)})
			px := newProxy(t, srv.Addr())
			var rec recorder
			c := dialTopics(t, px.Addr(), proto)
			if got := c.Subprotocol(); got != proto {
				t.Fatalf("subprotocol %q", got)
			}
			const topic = "md.TEST"
			if err := c.Subscribe(topic, rec.options()); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "subscribed", 2*time.Second, func() bool { _, n := rec.lastEvent(); return n == 1 })

			// The publisher keeps publishing while the connection is cut
			// three times.
			const total = 3000
			var seq atomic.Uint64
			pubDone := make(chan struct{})
			go func() {
				defer close(pubDone)
				for i := 1; i <= total; i++ {
					if _, err := hub.Publish(topic, "k", []byte(strconv.Itoa(i))); err != nil {
						t.Error(err)
						return
					}
					seq.Store(uint64(i))
					if i%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
			for cut := 1; cut <= 3; cut++ {
				waitFor(t, "progress", 5*time.Second, func() bool { return seq.Load() >= uint64(cut*total/4) })
				px.Cut()
				waitFor(t, "recovery", 5*time.Second, func() bool {
					ev, n := rec.lastEvent()
					return n == cut+1 && ev.Recovery == client.RecoveryOK && ev.Resubscribed
				})
			}
			<-pubDone
			waitFor(t, "every message", 5*time.Second, func() bool { return rec.count() >= total })
			time.Sleep(50 * time.Millisecond)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.seqs) != total {
				t.Fatalf("got %d messages, want %d", len(rec.seqs), total)
			}
			for i, s := range rec.seqs {
				if s != uint64(i+1) {
					t.Fatalf("message %d has seq %d", i, s)
				}
			}
			if rec.badData != 0 || rec.gaps != 0 || len(rec.epochs) != 1 {
				t.Fatalf("bad data %d, gaps %d, epochs %d", rec.badData, rec.gaps, len(rec.epochs))
			}
			t.Logf("%d messages across 3 cuts, %d subscription answers: %+v", total, len(rec.events), rec.events)
		})
	}
}

// Beyond the history window, and after a server restart (new epoch), the
// resubscription reports RecoveryFailed and the stream continues live.
func TestTopicsRecoveryFailed(t *testing.T) {
	hub, srv := startHub(t, "127.0.0.1:0", []pubsub.Option{pubsub.WithHistory(10, time.Minute)})
	addr := srv.Addr()
	px := newProxy(t, addr)
	var rec recorder
	c := dialTopics(t, px.Addr(), client.SubprotocolBinary,
		client.WithDialTimeout(500*time.Millisecond)) // a draining server may not answer
	const topic = "md.GAP"
	if err := c.Subscribe(topic, rec.options()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscribed", 2*time.Second, func() bool { _, n := rec.lastEvent(); return n == 1 })
	pub := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := hub.Publish(topic, "k", []byte(strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	pub(1, 5)
	waitFor(t, "5 messages", 2*time.Second, func() bool { return rec.count() == 5 })

	// Cut and keep the client out while 50 messages (> history 10) go by.
	px.Refuse(true)
	px.Cut()
	waitFor(t, "disconnect", 2*time.Second, func() bool { return !c.Connected() })
	pub(6, 55)
	px.Refuse(false)
	waitFor(t, "resubscription", 5*time.Second, func() bool { _, n := rec.lastEvent(); return n == 2 })
	ev, _ := rec.lastEvent()
	if ev.Recovery != client.RecoveryFailed || !ev.Resubscribed || ev.Position.Seq != 55 {
		t.Fatalf("beyond history: %+v", ev)
	}
	pub(56, 60)
	waitFor(t, "live messages", 2*time.Second, func() bool { return rec.count() == 10 })

	// A restart: a new hub on the same port has a new epoch.
	shutdown(srv)
	_ = hub.Close()
	var hub2 *pubsub.Hub
	waitFor(t, "restart", 3*time.Second, func() bool {
		h := pubsub.New()
		s := server.New(h, server.WithSubprotocols(pubsub.SubprotocolJSON, pubsub.SubprotocolBinary))
		if s.Start(addr) != nil {
			return false
		}
		hub2 = h
		t.Cleanup(func() { shutdown(s); _ = h.Close() })
		return true
	})
	waitFor(t, "resubscription after restart", 5*time.Second, func() bool { _, n := rec.lastEvent(); return n == 3 })
	ev, _ = rec.lastEvent()
	if ev.Recovery != client.RecoveryFailed || ev.Position.Seq != 0 {
		t.Fatalf("after restart: %+v", ev)
	}
	if _, err := hub2.Publish(topic, "k", []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "message of the new epoch", 2*time.Second, func() bool { return rec.count() == 11 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.epochs) != 2 || rec.gaps != 0 || rec.badData != 0 {
		t.Fatalf("epochs %d gaps %d bad %d", len(rec.epochs), rec.gaps, rec.badData)
	}
}

// The server shuts down (1001 Going Away to every client) while the
// publisher keeps publishing into the same history, and a new server takes
// the port (a rolling restart with history that outlives the process, as
// with NATS): the client reconnects and recovers every message.
func TestTopicsRecoverAcrossServerRestart(t *testing.T) {
	hub := pubsub.New(pubsub.WithHistory(100000, time.Minute))
	t.Cleanup(func() { _ = hub.Close() })
	serve := func(addr string) *server.Server {
		srv := server.New(hub, server.WithSubprotocols(pubsub.SubprotocolJSON, pubsub.SubprotocolBinary))
		if err := srv.Start(addr); err != nil {
			return nil
		}
		t.Cleanup(func() { shutdown(srv) })
		return srv
	}
	srv := serve("127.0.0.1:0")
	addr := srv.Addr()
	var rec recorder
	var closes atomic.Value
	c, err := client.Dial(context.Background(), "ws://"+addr+"/",
		client.WithSubprotocols(client.SubprotocolBinary),
		client.WithDialTimeout(500*time.Millisecond),
		client.WithReconnect(10*time.Millisecond, 100*time.Millisecond),
		client.OnClose(func(_ *client.Client, err error) { closes.Store(err) }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const topic = "md.ROLL"
	if err := c.Subscribe(topic, rec.options()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscribed", 2*time.Second, func() bool { _, n := rec.lastEvent(); return n == 1 })
	const total = 2000
	var seq atomic.Int64
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 1; i <= total; i++ {
			if _, err := hub.Publish(topic, "k", []byte(strconv.Itoa(i))); err != nil {
				t.Error(err)
				return
			}
			seq.Store(int64(i))
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	waitFor(t, "progress", 5*time.Second, func() bool { return seq.Load() >= total/3 })
	shutdown(srv)
	waitFor(t, "restart", 3*time.Second, func() bool { return serve(addr) != nil })
	waitFor(t, "recovery", 5*time.Second, func() bool {
		ev, n := rec.lastEvent()
		return n == 2 && ev.Recovery == client.RecoveryOK
	})
	<-pubDone
	waitFor(t, "every message", 5*time.Second, func() bool { return rec.count() >= total })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, s := range rec.seqs {
		if s != uint64(i+1) {
			t.Fatalf("message %d has seq %d", i, s)
		}
	}
	if len(rec.seqs) != total || rec.gaps != 0 {
		t.Fatalf("%d messages, %d gaps", len(rec.seqs), rec.gaps)
	}
	var ce *client.CloseError
	if err, _ := closes.Load().(error); !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("closed with %v, want 1001", closes.Load())
	}
}

// TestTopicsSnapshot: a subscription with Snapshot gets the value of every
// key first (Kind wire.Snapshot, not moving the position), then live
// publications; after a gap history cannot fill, the resubscription gets
// RecoverySnapshot and a fresh snapshot.
func TestTopicsSnapshot(t *testing.T) {
	hub, srv := startHub(t, "127.0.0.1:0", []pubsub.Option{pubsub.WithHistory(2, time.Minute)})
	px := newProxy(t, srv.Addr())
	const topic = "md.BOOK"
	for _, kv := range [][2]string{{"bid", "1"}, {"ask", "2"}, {"bid", "3"}} {
		if _, err := hub.Publish(topic, kv[0], []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []string
	var events []client.SubscribeEvent
	c := dialTopics(t, px.Addr(), client.SubprotocolBinary)
	err := c.Subscribe(topic, client.SubscribeOptions{
		Snapshot: true,
		OnPublication: func(_ *client.Client, p *client.Publication) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %s=%s@%d", p.Kind, p.Key, p.Data, p.Seq))
			mu.Unlock()
		},
		OnSubscribed: func(_ *client.Client, ev client.SubscribeEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	waitFor(t, "the snapshot", 2*time.Second, func() bool { return n() == 2 })
	if _, err := hub.Publish(topic, "ask", []byte("4")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a live update", 2*time.Second, func() bool { return n() == 3 })
	mu.Lock()
	want := []string{"snapshot ask=2@2", "snapshot bid=3@3", " ask=4@4"}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(events) != 1 || events[0].Snapshot != 2 || events[0].Position.Seq != 3 {
		t.Fatalf("got %q, events %+v; want %q", got, events, want)
	}
	got = nil
	mu.Unlock()

	// Out while more than the history goes by: a fresh snapshot.
	px.Refuse(true)
	px.Cut()
	waitFor(t, "disconnect", 2*time.Second, func() bool { return !c.Connected() })
	for i := 5; i <= 9; i++ {
		if _, err := hub.Publish(topic, "bid", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	px.Refuse(false)
	waitFor(t, "the second snapshot", 5*time.Second, func() bool { return n() == 2 })
	mu.Lock()
	defer mu.Unlock()
	ev := events[len(events)-1]
	if ev.Recovery != client.RecoverySnapshot || ev.Snapshot != 2 || ev.Position.Seq != 9 || fmt.Sprint(got) != fmt.Sprint([]string{"snapshot ask=4@4", "snapshot bid=9@9"}) {
		t.Fatalf("after the gap: %+v, %q", ev, got)
	}
}

// TestTopicsDelta: with Delta the server sends updates as Fossil deltas;
// the client applies them and delivers every key's full value, through a
// reconnection that recovers by replay and one that takes a fresh
// snapshot. Delta without Snapshot is refused.
func TestTopicsDelta(t *testing.T) {
	hub, srv := startHub(t, "127.0.0.1:0", []pubsub.Option{pubsub.WithHistory(20, time.Minute)})
	px := newProxy(t, srv.Addr())
	const topic = "md.BOOK"
	value := func(level, i int) string {
		return fmt.Sprintf(`{"level":%d,"px":"%d.25","qty":%d,"orders":["a","b","c","d","e","f"]}`, level, 100+level, i)
	}
	published := make(map[string]string)
	publish := func(level, i int) {
		key := fmt.Sprintf("L%d", level)
		v := value(level, i)
		if _, err := hub.Publish(topic, key, []byte(v)); err != nil {
			t.Fatal(err)
		}
		published[key] = v
	}
	for l := range 3 {
		publish(l, 0)
	}
	var mu sync.Mutex
	seen := make(map[string]string)
	var n int
	var events []client.SubscribeEvent
	c := dialTopics(t, px.Addr(), client.SubprotocolBinary)
	if err := c.Subscribe("other", client.SubscribeOptions{Delta: true}); !errors.Is(err, client.ErrDeltaOptions) {
		t.Fatalf("Delta without Snapshot: %v", err)
	}
	err := c.Subscribe(topic, client.SubscribeOptions{
		Snapshot: true, Delta: true,
		OnPublication: func(_ *client.Client, p *client.Publication) {
			mu.Lock()
			defer mu.Unlock()
			if p.Kind != wire.Publication && p.Kind != wire.Snapshot {
				t.Errorf("publication of kind %v", p.Kind)
			}
			seen[string(p.Key)] = string(p.Data)
			n++
		},
		OnSubscribed: func(_ *client.Client, ev client.SubscribeEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return n }
	check := func(what string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if !maps.Equal(seen, published) {
			t.Fatalf("%s: client has %v, published %v", what, seen, published)
		}
	}
	waitFor(t, "the snapshot", 2*time.Second, func() bool { return count() == 3 })
	for i := 1; i <= 10; i++ {
		publish(i%3, i)
	}
	waitFor(t, "live deltas", 2*time.Second, func() bool { return count() == 13 })
	check("live")

	// Out for less than the history: replayed (full values).
	px.Refuse(true)
	px.Cut()
	waitFor(t, "disconnect", 2*time.Second, func() bool { return !c.Connected() })
	for i := 11; i <= 15; i++ {
		publish(i%3, i)
	}
	px.Refuse(false)
	waitFor(t, "the replay", 5*time.Second, func() bool { return count() == 18 })
	check("replayed")
	mu.Lock()
	if ev := events[len(events)-1]; ev.Recovery != client.RecoveryOK {
		mu.Unlock()
		t.Fatalf("answer after a short cut: %+v", ev)
	}
	mu.Unlock()

	// Out for more than the history: a fresh snapshot, then deltas.
	px.Refuse(true)
	px.Cut()
	waitFor(t, "disconnect", 2*time.Second, func() bool { return !c.Connected() })
	for i := 16; i <= 45; i++ {
		publish(i%3, i)
	}
	px.Refuse(false)
	waitFor(t, "the second snapshot", 5*time.Second, func() bool { return count() == 21 })
	publish(1, 46)
	waitFor(t, "a delta after it", 2*time.Second, func() bool { return count() == 22 })
	check("after the snapshot")
	mu.Lock()
	defer mu.Unlock()
	if ev := events[len(events)-1]; ev.Recovery != client.RecoverySnapshot || ev.Snapshot != 3 {
		t.Fatalf("last answer %+v", ev)
	}
}
