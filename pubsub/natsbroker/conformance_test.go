package natsbroker

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/natstest"
	"github.com/wsloop/wsloop/pubsub"
)

// system is a Broker implementation run through the conformance table.
type system struct {
	// deploy starts a fresh set of topics whose history is the last n
	// messages, none older than ttl, and returns how to get a node of it:
	// every call is a new node (a new broker of the same topics) where
	// the system has nodes, and the one broker otherwise.
	deploy func(t *testing.T, n int, ttl time.Duration) (node func() pubsub.Broker)
	// durable: a new node has the topics' epochs of the previous ones
	// (a restarted process keeps recovering clients' positions).
	durable bool
}

// conformance is the behaviour every pubsub.Broker must have.
var conformance = []struct {
	name string
	run  func(t *testing.T, sys system)
}{
	{"OrderAndContent", testOrder},
	{"ExactlyOnceOnEveryNode", testExactlyOnce},
	{"BurstBeyondHistory", testBurst},
	{"SequencePerTopicAcrossNodes", testConcurrentPublishers},
	{"ActiveWhenSubscribeReturns", testActiveOnReturn},
	{"Cancel", testCancel},
	{"History", testHistory},
	{"HistoryNewTopic", testHistoryNewTopic},
	{"HistoryAge", testHistoryAge},
	{"LatestWhileSubscribed", testLatestWhileSubscribed},
	{"NoWaitForDelivery", testNoWaitForDelivery},
	{"BadTopic", testBadTopic},
	{"Keys", testKeys},
	{"Snapshot", testSnapshot},
	{"SnapshotUnderLoad", testSnapshotUnderLoad},
	{"TopicNames", testTopicNames},
	{"EpochAcrossRestart", testDurableEpoch},
	{"Close", testClose},
}

// runConformance runs the table, its cases in parallel (each has its own
// deployment).
func runConformance(t *testing.T, sys system) {
	for _, c := range conformance {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, sys)
		})
	}
}

func TestConformanceLocal(t *testing.T) {
	runConformance(t, system{deploy: func(t *testing.T, n int, ttl time.Duration) func() pubsub.Broker {
		l := pubsub.NewLocal(n, ttl)
		t.Cleanup(func() { _ = l.Close() })
		return func() pubsub.Broker { return l }
	}})
}

func TestConformanceNATS(t *testing.T) {
	url := natstest.Start(t, t.TempDir(), 0).ClientURL()
	runConformance(t, system{durable: true, deploy: func(t *testing.T, n int, ttl time.Duration) func() pubsub.Broker {
		prefix := uniquePrefix()
		return func() pubsub.Broker { return connect(t, url, WithPrefix(prefix), WithHistory(n, ttl)) }
	}})
}

const patience = 10 * time.Second

func publish(t testing.TB, b pubsub.Broker, topic, key, data string) pubsub.Position {
	t.Helper()
	p, err := b.Publish(topic, key, []byte(data))
	if err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
	return p
}

func testOrder(t *testing.T, sys system) {
	b := sys.deploy(t, 1000, 0)()
	r, cancel := subscribe(t, b, "prices.AAPL")
	defer cancel()
	const n = 200
	var epoch uint64
	for i := 1; i <= n; i++ {
		p := publish(t, b, "prices.AAPL", fmt.Sprintf("k%d", i%7), fmt.Sprintf("m%d", i))
		if i == 1 {
			epoch = p.Epoch
		}
		if p.Epoch == 0 || p.Epoch != epoch || p.Seq != uint64(i) {
			t.Fatalf("publish %d at %+v", i, p)
		}
	}
	msgs := r.wait(n, patience)
	checkSeqs(t, msgs, epoch, 1)
	for i, m := range msgs {
		if m.Topic != "prices.AAPL" || string(m.Data) != fmt.Sprintf("m%d", i+1) || m.Key != fmt.Sprintf("k%d", (i+1)%7) || m.Time.IsZero() {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
}

func testExactlyOnce(t *testing.T, sys system) {
	node := sys.deploy(t, 1000, 0)
	a, b := node(), node()
	ra, ca := subscribe(t, a, "x")
	defer ca()
	rb, cb := subscribe(t, b, "x")
	defer cb()
	const n = 100
	var epoch uint64
	for i := range n {
		p := publish(t, []pubsub.Broker{a, b}[i%2], "x", "", fmt.Sprint(i))
		epoch = p.Epoch
	}
	for _, r := range []*recorder{ra, rb} {
		msgs := r.wait(n, patience)
		checkSeqs(t, msgs, epoch, 1)
		for i, m := range msgs {
			if string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("message %d is %q", i, m.Data)
			}
		}
	}
	time.Sleep(100 * time.Millisecond)
	if len(ra.got()) != n || len(rb.got()) != n {
		t.Fatalf("after the last message: %d and %d messages, want %d", len(ra.got()), len(rb.got()), n)
	}
}

// testBurst: a burst of concurrent publishes far beyond the history window
// still reaches every subscription whole.
func testBurst(t *testing.T, sys system) {
	node := sys.deploy(t, 2, 0)
	a, b := node(), node()
	r, cancel := subscribe(t, a, "burst")
	defer cancel()
	const goroutines, each = 8, 100
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := b.Publish("burst", "", payload); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	_, last, _ := b.History("burst", pubsub.Position{})
	msgs := r.wait(goroutines*each, patience)
	checkSeqs(t, msgs, last.Epoch, 1)
}

func testConcurrentPublishers(t *testing.T, sys system) {
	node := sys.deploy(t, 1000, 0)
	a, b := node(), node()
	ra, ca := subscribe(t, a, "c")
	defer ca()
	rb, cb := subscribe(t, b, "c")
	defer cb()
	const goroutines, each = 4, 50
	var mu sync.Mutex
	sent := map[pubsub.Position]string{}
	var wg sync.WaitGroup
	for g := range 2 * goroutines {
		wg.Go(func() {
			for i := range each {
				data := fmt.Sprintf("g%d-%d", g, i)
				p, err := []pubsub.Broker{a, b}[g%2].Publish("c", "", []byte(data))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := sent[p]; dup {
					t.Errorf("position %+v given twice", p)
				}
				sent[p] = data
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const n = 2 * goroutines * each
	if t.Failed() || len(sent) != n {
		t.Fatalf("%d distinct positions, want %d", len(sent), n)
	}
	var epoch uint64
	for p := range sent {
		epoch = p.Epoch
	}
	for _, r := range []*recorder{ra, rb} {
		msgs := r.wait(n, patience)
		checkSeqs(t, msgs, epoch, 1)
		for _, m := range msgs {
			if sent[m.Position] != string(m.Data) {
				t.Fatalf("%+v carries %q, published as %q", m.Position, m.Data, sent[m.Position])
			}
		}
	}
}

func testActiveOnReturn(t *testing.T, sys system) {
	node := sys.deploy(t, 10, 0)
	a, b := node(), node()
	for i := range 10 {
		topic := fmt.Sprintf("fresh.%d", i)
		if i%2 == 1 {
			publish(t, b, topic, "", "before")
		}
		r, cancel := subscribe(t, a, topic)
		p := publish(t, b, topic, "", "after")
		msgs := r.wait(1, patience)
		if msgs[0].Position != p || string(msgs[0].Data) != "after" {
			t.Fatalf("%s: got %+v, want the message at %+v", topic, msgs[0], p)
		}
		cancel()
	}
}

func testCancel(t *testing.T, sys system) {
	node := sys.deploy(t, 1000, 0)
	a, b := node(), node()
	r1, c1 := subscribe(t, a, "cancel")
	r2, c2 := subscribe(t, a, "cancel")
	publish(t, b, "cancel", "", "first")
	r1.wait(1, patience)
	r2.wait(1, patience)
	const n = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if _, err := b.Publish("cancel", "", []byte("more")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	r1.wait(10, patience)
	c1() // r1 fails the test if called after this
	<-done
	r2.wait(n+1, patience)
	c2()
	c1()
	c2()
	publish(t, b, "cancel", "", "last")
	time.Sleep(100 * time.Millisecond)
	if got := len(r2.got()); got != n+1 {
		t.Fatalf("r2 got %d messages, want %d", got, n+1)
	}
}

func testHistory(t *testing.T, sys system) {
	b := sys.deploy(t, 5, 0)()
	var last pubsub.Position
	for i := 1; i <= 8; i++ {
		last = publish(t, b, "h", fmt.Sprintf("k%d", i), fmt.Sprintf("m%d", i))
	}
	e := last.Epoch
	msgs, pos, err := b.History("h", pubsub.Position{Epoch: e, Seq: 3})
	if err != nil || pos != last || len(msgs) != 5 {
		t.Fatalf("within the window: %d messages, %+v, %v", len(msgs), pos, err)
	}
	checkSeqs(t, msgs, e, 4)
	for i, m := range msgs {
		if m.Topic != "h" || string(m.Data) != fmt.Sprintf("m%d", i+4) || m.Key != fmt.Sprintf("k%d", i+4) || m.Time.IsZero() {
			t.Fatalf("history message %d: %+v", i, m)
		}
	}
	msgs, pos, err = b.History("h", pubsub.Position{Epoch: e, Seq: 7})
	if err != nil || pos != last || len(msgs) != 1 || msgs[0].Seq != 8 {
		t.Fatalf("last message: %+v, %+v, %v", msgs, pos, err)
	}
	for _, c := range []struct {
		name  string
		since pubsub.Position
		want  error
	}{
		{"up to date", last, nil},
		{"beyond the window", pubsub.Position{Epoch: e, Seq: 2}, pubsub.ErrRecoveryFailed},
		{"nothing seen, beyond the window", pubsub.Position{Epoch: e}, pubsub.ErrRecoveryFailed},
		{"ahead", pubsub.Position{Epoch: e, Seq: 9}, pubsub.ErrRecoveryFailed},
		{"other epoch", pubsub.Position{Epoch: e + 1, Seq: 3}, pubsub.ErrRecoveryFailed},
		{"latest position only", pubsub.Position{}, pubsub.ErrRecoveryFailed},
	} {
		msgs, pos, err := b.History("h", c.since)
		if !errors.Is(err, c.want) || pos != last || len(msgs) != 0 {
			t.Errorf("%s: %d messages, %+v, %v; want none, %+v, %v", c.name, len(msgs), pos, err, last, c.want)
		}
	}
}

func testHistoryNewTopic(t *testing.T, sys system) {
	b := sys.deploy(t, 5, 0)()
	_, pos, err := b.History("new", pubsub.Position{})
	if !errors.Is(err, pubsub.ErrRecoveryFailed) || pos.Epoch == 0 || pos.Seq != 0 {
		t.Fatalf("latest of a new topic: %+v, %v", pos, err)
	}
	if msgs, p, err := b.History("new", pos); err != nil || p != pos || len(msgs) != 0 {
		t.Fatalf("nothing seen of a new topic: %d, %+v, %v", len(msgs), p, err)
	}
	p := publish(t, b, "new", "", "one")
	if p.Epoch != pos.Epoch || p.Seq != 1 {
		t.Fatalf("first message at %+v, topic was at %+v", p, pos)
	}
	if msgs, _, err := b.History("new", pos); err != nil || len(msgs) != 1 || msgs[0].Position != p {
		t.Fatalf("recovery from before the first message: %+v, %v", msgs, err)
	}
}

func testHistoryAge(t *testing.T, sys system) {
	const ttl = 2 * time.Second
	b := sys.deploy(t, 100, ttl)()
	var last pubsub.Position
	for i := range 3 {
		last = publish(t, b, "aging", "", fmt.Sprint(i))
	}
	from := pubsub.Position{Epoch: last.Epoch}
	if msgs, _, err := b.History("aging", from); err != nil || len(msgs) != 3 {
		t.Fatalf("within the age limit: %d messages, %v", len(msgs), err)
	}
	deadline := time.Now().Add(ttl + patience)
	for {
		msgs, pos, err := b.History("aging", from)
		if errors.Is(err, pubsub.ErrRecoveryFailed) && pos == last {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("%d messages, %+v, %v; want them expired", len(msgs), pos, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if msgs, pos, err := b.History("aging", last); err != nil || pos != last || len(msgs) != 0 {
		t.Fatalf("up to date after expiry: %d, %+v, %v", len(msgs), pos, err)
	}
}

// testLatestWhileSubscribed: the latest position of a subscribed topic is
// that of the last message its subscriptions received, once they have.
func testLatestWhileSubscribed(t *testing.T, sys system) {
	node := sys.deploy(t, 5, 0)
	a, b := node(), node()
	r, cancel := subscribe(t, a, "latest")
	defer cancel()
	var last pubsub.Position
	for i := range 7 {
		last = publish(t, b, "latest", "", fmt.Sprint(i))
	}
	r.wait(7, patience)
	for _, n := range []pubsub.Broker{a, b} {
		if _, pos, err := n.History("latest", pubsub.Position{}); !errors.Is(err, pubsub.ErrRecoveryFailed) || pos != last {
			t.Fatalf("latest: %+v, %v; want %+v", pos, err, last)
		}
	}
}

// testNoWaitForDelivery: Subscribe and History must not wait for a
// subscription's fn to return. The hub calls them holding a topic's lock,
// which its fn takes too: a broker that waits for a running fn there
// deadlocks the topic (the first subscriber of a topic asks for its
// position while a message is being delivered).
func testNoWaitForDelivery(t *testing.T, sys system) {
	node := sys.deploy(t, 5, 0)
	b := node()
	var lock sync.Mutex // the subscriber's own lock, taken by its fn
	entered := make(chan struct{}, 1)
	_, cancel := subscribe(t, b, "busy")
	defer cancel()
	stop, err := b.Subscribe("busy", func(pubsub.Message) {
		select {
		case entered <- struct{}{}:
		default:
		}
		lock.Lock()
		lock.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { lock.Unlock(); stop() }()
	lock.Lock()
	published := make(chan pubsub.Position, 1)
	go func() { published <- publish(t, b, "busy", "", "x") }() // a broker may deliver in Publish
	select {
	case <-entered: // fn is delivering and blocked on lock
	case <-time.After(patience):
		t.Fatal("no delivery")
	}
	done := make(chan error, 2)
	go func() {
		_, pos, err := b.History("busy", pubsub.Position{})
		switch {
		case !errors.Is(err, pubsub.ErrRecoveryFailed):
			done <- fmt.Errorf("History from nowhere: %v, want ErrRecoveryFailed", err)
		case pos.Seq != 1:
			done <- fmt.Errorf("History: position %+v, want the first message's", pos)
		default:
			done <- nil
		}
	}()
	go func() {
		c, err := b.Subscribe("busy", func(pubsub.Message) {})
		if err == nil {
			go c()
		}
		done <- err
	}()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(patience):
			t.Fatal("History or Subscribe waited for a running delivery")
		}
	}
	lock.Unlock()
	select {
	case <-published:
	case <-time.After(patience):
		t.Error("Publish did not return")
	}
	lock.Lock() // for the deferred Unlock
}

// testKeys: conflation keys come back as published, live and from
// history, whatever their bytes.
func testKeys(t *testing.T, sys system) {
	b := sys.deploy(t, 100, 0)()
	keys := []string{"AAPL", " padded ", "a\r\nInjected: yes", "50%", "%41", "tab\there", "\x00\x01\x7f", "€uro", "\xff\xfe", "a:b", strings.Repeat("k", 255)}
	r, cancel := subscribe(t, b, "keys")
	defer cancel()
	var e uint64
	for _, k := range keys {
		e = publish(t, b, "keys", k, k).Epoch
	}
	live := r.wait(len(keys), patience)
	hist, _, err := b.History("keys", pubsub.Position{Epoch: e})
	if err != nil || len(hist) != len(keys) {
		t.Fatalf("history: %d messages, %v", len(hist), err)
	}
	for i, k := range keys {
		if live[i].Key != k || hist[i].Key != k || string(live[i].Data) != k {
			t.Errorf("key %q came back as %q live and %q from history", k, live[i].Key, hist[i].Key)
		}
	}
}

func testBadTopic(t *testing.T, sys system) {
	b := sys.deploy(t, 5, 0)()
	for _, name := range []string{"", "a..b", ".a", "a.", "a b", "a.*", "a.>", "tab\t", strings.Repeat("x", 256)} {
		if _, err := b.Publish(name, "", nil); !errors.Is(err, pubsub.ErrBadTopic) {
			t.Errorf("Publish(%q): %v", name, err)
		}
		if _, err := b.Subscribe(name, func(pubsub.Message) {}); !errors.Is(err, pubsub.ErrBadTopic) {
			t.Errorf("Subscribe(%q): %v", name, err)
		}
		if _, _, err := b.History(name, pubsub.Position{}); !errors.Is(err, pubsub.ErrBadTopic) {
			t.Errorf("History(%q): %v", name, err)
		}
	}
}

// testTopicNames: topics differing only in case or in punctuation, with
// NATS subject separators, non-ASCII, and of the longest length are
// separate topics.
func testTopicNames(t *testing.T, sys system) {
	b := sys.deploy(t, 5, 0)()
	names := []string{"AAPL", "aapl", "a.b.c", "a.b", "a-b:c/d_e", "a_b", "€uro.ñ", "$sys", strings.Repeat("L", 255), strings.Repeat("L", 254)}
	for round := 1; round <= 2; round++ {
		for _, name := range names {
			if p := publish(t, b, name, "", name); p.Seq != uint64(round) {
				t.Fatalf("%q: message %d at %+v", name, round, p)
			}
		}
	}
	for _, name := range names {
		msgs, last, err := b.History(name, pubsub.Position{Epoch: 0})
		if !errors.Is(err, pubsub.ErrRecoveryFailed) || last.Seq != 2 {
			t.Fatalf("%q: latest %+v, %v", name, last, err)
		}
		msgs, _, err = b.History(name, pubsub.Position{Epoch: last.Epoch})
		if err != nil || len(msgs) != 2 || string(msgs[1].Data) != name || msgs[1].Topic != name {
			t.Fatalf("%q: history %+v, %v", name, msgs, err)
		}
	}
}

func testDurableEpoch(t *testing.T, sys system) {
	if !sys.durable {
		t.Skip("a new instance of this broker starts a new epoch")
	}
	node := sys.deploy(t, 5, 0)
	a := node()
	p := publish(t, a, "durable", "", "one")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := node()
	msgs, last, err := b.History("durable", pubsub.Position{Epoch: p.Epoch})
	if err != nil || last != p || len(msgs) != 1 {
		t.Fatalf("after a restart: %d messages, %+v, %v; want the one at %+v", len(msgs), last, err, p)
	}
	if q := publish(t, b, "durable", "", "two"); q.Epoch != p.Epoch || q.Seq != 2 {
		t.Fatalf("next message at %+v after %+v", q, p)
	}
}

func testClose(t *testing.T, sys system) {
	b := sys.deploy(t, 5, 0)()
	r, cancel := subscribe(t, b, "closing")
	publish(t, b, "closing", "", "one")
	r.wait(1, patience)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	r.over.Store(true)
	if _, err := b.Publish("closing", "", nil); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := b.Subscribe("closing", func(pubsub.Message) {}); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if _, _, err := b.History("closing", pubsub.Position{}); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("History after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	cancel()
	if !slices.IsSortedFunc(r.got(), func(x, y pubsub.Message) int { return int(x.Seq) - int(y.Seq) }) {
		t.Error("out of order")
	}
}

// TestConformanceExternal runs the table against a NATS server of your
// own, such as Debian's nats-server: WSLOOP_NATS_URL=nats://127.0.0.1:4222
// (JetStream enabled; the test's streams are left in it).
func TestConformanceExternal(t *testing.T) {
	url := os.Getenv("WSLOOP_NATS_URL")
	if url == "" {
		t.Skip("WSLOOP_NATS_URL not set")
	}
	run := fmt.Sprintf("x%d", time.Now().UnixNano()%1e9)
	runConformance(t, system{durable: true, deploy: func(t *testing.T, n int, ttl time.Duration) func() pubsub.Broker {
		prefix := run + uniquePrefix()
		return func() pubsub.Broker { return connect(t, url, WithPrefix(prefix), WithHistory(n, ttl)) }
	}})
}
