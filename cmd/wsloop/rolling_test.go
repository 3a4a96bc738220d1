package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsloop/wsloop/client"
	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/pubsub/natsbroker"
)

// rollSubscribersEnv sets how many client/ subscribers
// TestProcsRollingRestartFeed holds (default 200). The acceptance
// run holds 10,000, without -race:
//
//	WSLOOP_ROLL_SUBSCRIBERS=10000 go test -count=1 -v -run TestProcsRollingRestartFeed ./cmd/wsloop/
const rollSubscribersEnv = "WSLOOP_ROLL_SUBSCRIBERS"

// rollSub is one subscriber's record. Its callbacks run on its client's
// goroutine; the test reads the fields under mu.
type rollSub struct {
	topic string

	mu        sync.Mutex
	epoch     uint64
	have      bool   // the first answer arrived: epoch and last are set
	last      uint64 // last sequence delivered
	got       int    // publications delivered
	downAt    time.Time
	reopens   []time.Duration // close to the next open (TCP and upgrade)
	outages   []time.Duration // close to the recovered resubscription
	recovered uint64          // publications replayed after reconnections (estimate, see below)
	err       error
}

func (s *rollSub) fail(format string, a ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, a...)
	}
}

// A rolling restart (SIGHUP) of `wsloop -procs 4 -mode feed` through NATS
// while client/ subscribers follow the feed's symbol topics: every
// subscriber is back within 5 s of its connection's 1001, resubscribed
// from its last position with recovery ok, and its sequence runs without
// a gap or a duplicate from its first message to the topics' positions
// after the restart.
func TestProcsRollingRestartFeed(t *testing.T) {
	n := 200
	if v := os.Getenv(rollSubscribersEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", rollSubscribersEnv, v)
		}
	}
	ns := startNATS(t)
	const symbols, rate = 50, 200 // 4 updates/s per symbol topic
	s, workers := startSup(t, 4, "-mode", "feed", "-nats", ns.ClientURL(),
		"-feed-symbols", strconv.Itoa(symbols), "-feed-rate", strconv.Itoa(rate), "-drain-timeout", "10s")
	url := "ws://" + workers[0].Addr + "/"
	syms := feed.Symbols(symbols)

	// head[i] is the highest sequence any subscriber saw on topic i: at
	// a resubscription, head − since estimates what the replay carries.
	head := make([]atomic.Uint64, symbols)
	subs := make([]*rollSub, n)
	var subscribed, resubscribed atomic.Int64
	clients := make([]*client.Client, n)
	for i := range n {
		sub := &rollSub{topic: feed.TopicOf(syms[i%symbols])}
		subs[i] = sub
		h := &head[i%symbols]
		c := client.New(url,
			client.WithSubprotocols(client.SubprotocolBinary),
			client.WithReconnect(100*time.Millisecond, 2*time.Second),
			client.OnClose(func(*client.Client, error) {
				sub.mu.Lock()
				sub.downAt = time.Now()
				sub.mu.Unlock()
			}),
			client.OnOpen(func(*client.Client) {
				sub.mu.Lock()
				if !sub.downAt.IsZero() {
					sub.reopens = append(sub.reopens, time.Since(sub.downAt))
				}
				sub.mu.Unlock()
			}))
		clients[i] = c
		err := c.Subscribe(sub.topic, client.SubscribeOptions{
			OnPublication: func(_ *client.Client, p *client.Publication) {
				sub.mu.Lock()
				defer sub.mu.Unlock()
				switch {
				case !sub.have:
					sub.fail("publication %d before the subscription's answer", p.Position.Seq)
				case p.Position.Epoch != sub.epoch:
					sub.fail("epoch %x after %x", p.Position.Epoch, sub.epoch)
				case p.Position.Seq != sub.last+1:
					sub.fail("seq %d after %d", p.Position.Seq, sub.last)
				}
				sub.last = p.Position.Seq
				sub.got++
				for {
					v := h.Load()
					if p.Position.Seq <= v || h.CompareAndSwap(v, p.Position.Seq) {
						break
					}
				}
			},
			OnSubscribed: func(_ *client.Client, ev client.SubscribeEvent) {
				sub.mu.Lock()
				defer sub.mu.Unlock()
				e := ev.Position.Epoch
				switch {
				case ev.Err != nil:
					sub.fail("subscription refused: %v", ev.Err)
				case !ev.Resubscribed:
					sub.epoch, sub.last, sub.have = e, ev.Position.Seq, true
					subscribed.Add(1)
				case ev.Recovery != client.RecoveryOK || e != sub.epoch || ev.Position.Seq != sub.last:
					sub.fail("resubscribed at %x/%d: %v from %x/%d", sub.epoch, sub.last, ev.Recovery, e, ev.Position.Seq)
				default:
					sub.outages = append(sub.outages, time.Since(sub.downAt))
					if hv := h.Load(); hv > sub.last {
						sub.recovered += hv - sub.last
					}
					resubscribed.Add(1)
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	waitCount := func(what string, v *atomic.Int64, want int64, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for v.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d within %v", what, v.Load(), want, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	start := time.Now()
	waitCount("subscribed", &subscribed, int64(n), 60*time.Second+time.Duration(n)*time.Millisecond)
	t.Logf("%d subscribers on %d topics in %v", n, symbols, time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // every topic moves about 8 times

	roll := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.await(t, 30*time.Second, func(e supEvent) bool { return e.Msg == "rolled over: the previous generation drains" })
	waitCount("resubscribed with recovery ok", &resubscribed, int64(n), 30*time.Second)
	for range 4 {
		s.await(t, 20*time.Second, func(e supEvent) bool { return e.Msg == "worker exited" && e.Gen == 1 })
	}
	t.Logf("every subscriber resubscribed %v after SIGHUP; generation 1 exited", time.Since(roll).Round(time.Millisecond))

	// The topics' positions now, from the broker: every subscriber must
	// reach its topic's, without a gap on the way.
	b, err := natsbroker.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	target := make(map[string]uint64, symbols)
	for i, sym := range syms {
		if i >= n {
			break
		}
		topic := feed.TopicOf(sym)
		_, pos, err := b.History(topic, pubsub.Position{})
		if err != nil && !errors.Is(err, pubsub.ErrRecoveryFailed) {
			t.Fatalf("%s: %v", topic, err)
		}
		target[topic] = pos.Seq
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, sub := range subs {
		for {
			sub.mu.Lock()
			done := sub.last >= target[sub.topic] || sub.err != nil
			sub.mu.Unlock()
			if done || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	var outages, reopens []time.Duration
	var got, recovered uint64
	failed := 0
	for i, sub := range subs {
		sub.mu.Lock()
		switch {
		case sub.err != nil:
			t.Errorf("subscriber %d (%s): %v", i, sub.topic, sub.err)
		case sub.last < target[sub.topic]:
			t.Errorf("subscriber %d (%s): at seq %d, the topic at %d", i, sub.topic, sub.last, target[sub.topic])
		case len(sub.outages) == 0:
			t.Errorf("subscriber %d (%s): never resubscribed", i, sub.topic)
		}
		if sub.err != nil {
			failed++
		}
		for _, d := range sub.outages {
			if d > 5*time.Second {
				t.Errorf("subscriber %d (%s): out for %v", i, sub.topic, d)
			}
		}
		outages = append(outages, sub.outages...)
		reopens = append(reopens, sub.reopens...)
		got += uint64(sub.got)
		recovered += sub.recovered
		sub.mu.Unlock()
	}
	t.Logf("%d subscribers, %d failed; %d publications delivered, about %d of them replayed after reconnecting",
		n, failed, got, recovered)
	t.Logf("reconnected (1001 to open): %s", quantiles(reopens))
	t.Logf("recovered (1001 to resubscribed with recovery ok): %s", quantiles(outages))
}

// quantiles describes durations: count, p50, p99, max.
func quantiles(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	d = slices.Clone(d)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[int(p*float64(len(d)-1))].Round(time.Millisecond) }
	return fmt.Sprintf("%d, p50 %v, p99 %v, max %v", len(d), q(0.5), q(0.99), q(1))
}
