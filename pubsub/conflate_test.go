package pubsub_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/pubsubtest"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// TestHubConflation: a subscriber that stops reading, with conflation,
// ends with the latest value of every key after far fewer messages than
// were published, in increasing sequence order, and the server holds at
// most one pending message per key for it; every trade (a message without
// a key) reaches it, in order; a fast subscriber of the same
// topic gets every message; a slow subscriber without conflation is
// closed by the slow-consumer policy (1008) instead.
func TestHubConflation(t *testing.T) {
	hub := pubsub.New()
	srv := pubsubtest.Start(t, hub, server.WithConflateAbove(32<<10), server.WithMaxOutbound(2<<20, server.SlowClose))
	const (
		topic      = "md.all"
		keys       = 50
		total      = 40000
		tradeEvery = 2000
	)
	fast := dialSub(t, srv.Addr(), true)
	fast.subscribe(topic, nil)
	slow := dialSubWith(t, srv.Addr(), false, pubsubtest.SmallReceiveBuffer)
	slow.subscribe(topic, map[string]any{"conflate": true})
	stuck := dialSubWith(t, srv.Addr(), false, pubsubtest.SmallReceiveBuffer)
	stuck.subscribe(topic, nil)

	var fastGot atomic.Int64
	fastErr := make(chan error, 1)
	go func() {
		for n := uint64(1); n <= total; n++ {
			e, err := fast.next(20 * time.Second)
			if err != nil || e.Seq != n {
				fastErr <- fmt.Errorf("fast subscriber at %d: %+v %v", n, e, err)
				return
			}
			fastGot.Add(1)
		}
		fastErr <- nil
	}()
	pad := make([]byte, 400)
	for i := range pad {
		pad[i] = 'x'
	}
	latest := make(map[string]int)
	for i := 1; i <= total; i++ {
		key := fmt.Sprintf("S%02d", i%keys)
		data := fmt.Sprintf(`{"v":%d,"pad":"%s"}`, i, pad)
		if i%tradeEvery == 0 {
			key, data = "", fmt.Sprintf(`{"v":%d}`, i)
		}
		if _, err := hub.Publish(topic, key, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if key != "" {
			latest[key] = i
		}
		// Pace on the fast reader, not on time: it must never be the
		// one that falls behind.
		for int64(i)-fastGot.Load() > 1000 {
			select {
			case err := <-fastErr:
				t.Fatal(err)
			default:
				time.Sleep(time.Millisecond)
			}
		}
	}
	if err := <-fastErr; err != nil {
		t.Fatal(err)
	}

	// The slow conflating subscriber reads now: increasing sequences,
	// and in the end every key's latest value.
	got := make(map[string]int)
	var n, trades int
	var last uint64
	for len(got) < keys || !equalLatest(got, latest) || trades < total/tradeEvery {
		e, err := slow.next(10 * time.Second)
		if err != nil {
			t.Fatalf("slow subscriber after %d messages: %v (has %d keys)", n, err, len(got))
		}
		if e.Seq <= last {
			t.Fatalf("slow subscriber: seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		var d struct{ V int }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if e.Key == "" {
			trades++
			if d.V != trades*tradeEvery {
				t.Fatalf("slow subscriber: trade %d is publication %d, want %d", trades, d.V, trades*tradeEvery)
			}
		} else {
			got[e.Key] = d.V
		}
		n++
	}
	if n > total/2 {
		t.Errorf("slow subscriber read %d of %d messages: conflation should have dropped most", n, total)
	}
	st := srv.Stats()
	if st.Conflated == 0 {
		t.Errorf("Stats.Conflated = 0")
	}
	t.Logf("slow conflating subscriber: %d of %d messages, %d conflated", n, total, st.Conflated)

	// The non-conflating one fell past the cap and was closed (its
	// close frame is dropped with what was queued for it: its peer was
	// not reading; the server reports 1008).
	var ce *closed
	for {
		_, err := stuck.next(10 * time.Second)
		if err == nil {
			continue
		}
		if errors.As(err, &ce) && ce.code != 1008 || !errors.As(err, &ce) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("slow subscriber without conflation: %v, want the connection closed", err)
		}
		break
	}
	if st.SlowConsumerCloses != 1 {
		t.Errorf("slow-consumer closes %d, want 1", st.SlowConsumerCloses)
	}
}

func equalLatest(got, want map[string]int) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
