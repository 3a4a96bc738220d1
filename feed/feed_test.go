package feed_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/pubsub"
)

// update is the feed's message data.
type update struct {
	Sym string  `json:"sym"`
	Px  float64 `json:"px"`
	Chg float64 `json:"chg"`
	TS  int64   `json:"ts"`
}

// recorder keeps the messages a Local broker delivers on some topics.
type recorder struct {
	mu   sync.Mutex
	msgs map[string][]pubsub.Message
}

func record(t *testing.T, b pubsub.Broker, topics ...string) *recorder {
	t.Helper()
	r := &recorder{msgs: make(map[string][]pubsub.Message)}
	for _, topic := range topics {
		cancel, err := b.Subscribe(topic, func(m pubsub.Message) {
			m.Data = slices.Clone(m.Data)
			r.mu.Lock()
			r.msgs[m.Topic] = append(r.msgs[m.Topic], m)
			r.mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
	}
	return r
}

func (r *recorder) get(topic string) []pubsub.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs[topic])
}

// TestRunPublishes runs a feed for a second through a Local broker and
// checks its rate, its message format and the per-symbol topics.
func TestRunPublishes(t *testing.T) {
	const symbols, rate = 20, 400.0
	b := pubsub.NewLocal(0, 0)
	syms := feed.Symbols(symbols)
	rec := record(t, b, append([]string{feed.TopicAll}, feed.TopicOf(syms[0]), feed.TopicOf(syms[1]))...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx, b, feed.Config{Symbols: symbols, Rate: rate, Seed: 1}) }()
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	all := rec.get(feed.TopicAll)
	if n := len(all); n < rate*0.75 || n > rate*1.1 {
		t.Errorf("%d updates in 1 s, want about %v", n, rate)
	}
	if len(all) < symbols {
		t.Fatalf("only %d updates", len(all))
	}
	open := make(map[string]float64) // px - chg: the opening price
	seen := make(map[string]int)
	for i, m := range all {
		var u update
		if err := json.Unmarshal(m.Data, &u); err != nil {
			t.Fatalf("update %d: %v: %s", i, err, m.Data)
		}
		if m.Key != u.Sym || !slices.Contains(syms, u.Sym) {
			t.Fatalf("update %d: key %q, sym %q", i, m.Key, u.Sym)
		}
		if u.Px <= 0 || u.TS < time.Now().Add(-time.Minute).UnixMilli() {
			t.Fatalf("update %d: %s", i, m.Data)
		}
		o := u.Px - u.Chg
		if prev, ok := open[u.Sym]; ok && (o-prev > 0.005 || prev-o > 0.005) {
			t.Fatalf("update %d: %s: opening price %.2f, was %.2f", i, m.Data, o, prev)
		}
		open[u.Sym] = o
		if i < symbols {
			seen[u.Sym]++
		}
	}
	if len(seen) != symbols {
		t.Errorf("the first %d updates cover %d symbols, want every one once", symbols, len(seen))
	}
	for _, sym := range syms[:2] {
		var want [][]byte
		for _, m := range all {
			if m.Key == sym {
				want = append(want, m.Data)
			}
		}
		got := rec.get(feed.TopicOf(sym))
		if len(got) != len(want) {
			t.Fatalf("%s: %d updates on its topic, %d on %s", sym, len(got), len(want), feed.TopicAll)
		}
		for i, m := range got {
			if string(m.Data) != string(want[i]) || m.Key != sym {
				t.Fatalf("%s: update %d is %s (key %q) on its topic, %s on %s", sym, i, m.Data, m.Key, want[i], feed.TopicAll)
			}
		}
	}
}

// TestRunStops checks that Run returns nil soon after its context ends and
// ErrClosed once its publisher is closed.
func TestRunStops(t *testing.T) {
	b := pubsub.NewLocal(10, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx, b, feed.Config{}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run still running 1 s after cancel")
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- feed.Run(ctx, b, feed.Config{Rate: 1000}) }()
	time.Sleep(100 * time.Millisecond)
	_ = b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, pubsub.ErrClosed) {
			t.Fatalf("Run on a closed broker: %v, want ErrClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run still running 1 s after its broker closed")
	}
}

func TestSymbols(t *testing.T) {
	const n = 5000
	syms := feed.Symbols(n)
	if len(syms) != n {
		t.Fatalf("%d symbols, want %d", len(syms), n)
	}
	if !slices.Equal(syms[:len(feed.Tickers)], feed.Tickers) {
		t.Errorf("the first symbols are not Tickers: %q", syms[:len(feed.Tickers)])
	}
	seen := make(map[string]bool)
	for _, s := range syms {
		if seen[s] || !pubsub.ValidTopic(feed.TopicOf(s)) {
			t.Fatalf("symbol %q repeated or not a topic", s)
		}
		seen[s] = true
	}
	if !slices.Equal(feed.Symbols(60), syms[:60]) || len(feed.Symbols(0)) != 0 {
		t.Error("Symbols(n) is not a prefix of Symbols(m > n)")
	}
}
