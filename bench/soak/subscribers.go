package soak

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/wsloop/wsloop/client"
)

// track is one subscription's independent check of the stream the client
// delivers: within an epoch every publication must have seq last+1, and
// a resubscription must continue exactly where delivery stopped.
type track struct {
	topic      string
	pos        client.Position
	have       bool
	received   uint64
	gaps       int // OnGap: gaps the client saw on the wire
	healing    bool
	healed     int // gaps followed by a resubscription with recovery ok
	recOK      int // resubscriptions with recovery ok
	recFailed  int // resubscriptions that could not recover
	violations int // deliveries out of sequence, or a resumption elsewhere
	firstBad   string
}

// sub is one client/ subscriber and its tracks. Its callbacks run on the
// client's goroutine; mu guards everything below it against the readers
// of snapshots.
type sub struct {
	c *client.Client

	mu          sync.Mutex
	tracks      map[string]*track
	opens       int
	closes      int
	downSince   time.Time // zero while connected
	reconnects  []time.Duration
	subscribedN int // first subscription answers received
}

// pool is a set of subscribers. Methods are safe from any goroutine.
type pool struct {
	name string
	subs []*sub
}

// poolOptions describe the subscribers of a pool.
type poolOptions struct {
	url       string
	n         int
	allEvery  int // every allEvery-th subscribes to md.all too (0: none)
	symbols   []string
	heartbeat time.Duration
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
}

// startPool starts n subscribers; each subscribes to "md."+symbol for its
// symbol (round robin) and, every allEvery-th, to md.all.
func startPool(name string, o poolOptions) *pool {
	p := &pool{name: name}
	for i := range o.n {
		topics := []string{"md." + o.symbols[i%len(o.symbols)]}
		if o.allEvery > 0 && i%o.allEvery == 0 {
			topics = append(topics, "md.all")
		}
		p.subs = append(p.subs, startSub(o, topics))
	}
	return p
}

func startSub(o poolOptions, topics []string) *sub {
	s := &sub{tracks: map[string]*track{}}
	opts := []client.Option{
		client.WithSubprotocols(client.SubprotocolBinary),
		client.WithHeartbeat(o.heartbeat, o.heartbeat),
		client.WithReconnect(100*time.Millisecond, 2*time.Second),
		client.WithDialTimeout(3 * time.Second),
		client.OnOpen(s.onOpen),
		client.OnClose(s.onClose),
	}
	if o.dial != nil {
		opts = append(opts, client.WithNetDial(o.dial))
	}
	s.c = client.New(o.url, opts...)
	for _, t := range topics {
		tr := &track{topic: t}
		s.tracks[t] = tr
		_ = s.c.Subscribe(t, client.SubscribeOptions{
			OnPublication: func(_ *client.Client, p *client.Publication) { s.onPublication(tr, p) },
			OnSubscribed:  func(_ *client.Client, ev client.SubscribeEvent) { s.onSubscribed(tr, ev) },
			OnGap:         func(_ *client.Client, _ string, _, _ client.Position) { s.onGap(tr) },
		})
	}
	_ = s.c.Start()
	return s
}

func (s *sub) onOpen(*client.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	if !s.downSince.IsZero() {
		s.reconnects = append(s.reconnects, time.Since(s.downSince))
		s.downSince = time.Time{}
	}
}

func (s *sub) onClose(*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	s.downSince = time.Now()
}

func (s *sub) onPublication(t *track, p *client.Publication) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.received++
	if t.have && p.Epoch == t.pos.Epoch && p.Seq != t.pos.Seq+1 {
		t.bad(fmt.Sprintf("%s: seq %d after %d", t.topic, p.Seq, t.pos.Seq))
	} else if t.have && p.Epoch != t.pos.Epoch {
		t.bad(fmt.Sprintf("%s: epoch %x after %x without a resubscription", t.topic, p.Epoch, t.pos.Epoch))
	}
	t.pos, t.have = p.Position, true
}

func (s *sub) onSubscribed(t *track, ev client.SubscribeEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case ev.Err != nil:
		t.bad(fmt.Sprintf("%s: refused: %v", t.topic, ev.Err))
		return
	case !ev.Resubscribed:
		s.subscribedN++
	case ev.Recovery == client.RecoveryOK:
		t.recOK++
		if t.healing {
			t.healed++
			t.healing = false
		}
		if t.have && ev.Position != t.pos {
			t.bad(fmt.Sprintf("%s: recovered at %d/%x, delivered up to %d/%x", t.topic, ev.Position.Seq, ev.Position.Epoch, t.pos.Seq, t.pos.Epoch))
		}
	case ev.Recovery == client.RecoveryFailed:
		t.recFailed++
	}
	t.pos, t.have = ev.Position, true
}

func (s *sub) onGap(t *track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.gaps++
	t.healing = true
}

func (t *track) bad(why string) {
	t.violations++
	if t.firstBad == "" {
		t.firstBad = why
	}
}

// poolStats sums a pool's tracks and connection events.
type poolStats struct {
	Subscribers   int             `json:"subscribers"`
	Subscribed    int             `json:"subscribed"` // first answers received
	Connected     int             `json:"connected"`
	Received      uint64          `json:"received"`
	Gaps          int             `json:"gaps"`
	Healed        int             `json:"healed"`
	RecoveredOK   int             `json:"recovered_ok"`
	RecoverFailed int             `json:"recover_failed"`
	Violations    int             `json:"violations"`
	FirstBad      string          `json:"first_bad,omitempty"`
	Closes        int             `json:"closes"`
	Reconnects    []time.Duration `json:"-"`
	received      []uint64        // per subscriber, all topics
	closesOf      []int           // per subscriber
	reconnN       []int           // per subscriber
}

// unhealed counts gaps that no recovery followed.
func (p poolStats) unhealed() int { return p.Gaps - p.Healed }

func (p *pool) stats() poolStats {
	var st poolStats
	st.Subscribers = len(p.subs)
	for _, s := range p.subs {
		s.mu.Lock()
		var n uint64
		for _, t := range s.tracks {
			n += t.received
			st.Gaps += t.gaps
			st.Healed += t.healed
			st.RecoveredOK += t.recOK
			st.RecoverFailed += t.recFailed
			st.Violations += t.violations
			if st.FirstBad == "" {
				st.FirstBad = t.firstBad
			}
		}
		st.Received += n
		st.received = append(st.received, n)
		st.closesOf = append(st.closesOf, s.closes)
		st.Closes += s.closes
		st.Reconnects = append(st.Reconnects, s.reconnects...)
		st.reconnN = append(st.reconnN, len(s.reconnects))
		if s.subscribedN == len(s.tracks) {
			st.Subscribed++
		}
		if s.downSince.IsZero() && s.opens > 0 {
			st.Connected++
		}
		s.mu.Unlock()
	}
	return st
}

// positions returns, per topic, the lowest position delivered by any of
// the pool's subscribers (the one furthest behind).
func (p *pool) positions() map[string]client.Position {
	out := map[string]client.Position{}
	for _, s := range p.subs {
		s.mu.Lock()
		for topic, t := range s.tracks {
			if cur, ok := out[topic]; !ok || t.pos.Seq < cur.Seq {
				out[topic] = t.pos
			}
		}
		s.mu.Unlock()
	}
	return out
}

// caughtUp reports whether every subscriber of each topic in want has
// delivered at least its seq in its epoch.
func (p *pool) caughtUp(want map[string]client.Position) bool {
	for _, s := range p.subs {
		s.mu.Lock()
		for topic, t := range s.tracks {
			w, ok := want[topic]
			if ok && (t.pos.Epoch != w.Epoch || t.pos.Seq < w.Seq) {
				s.mu.Unlock()
				return false
			}
		}
		s.mu.Unlock()
	}
	return true
}

// close closes every client and waits (bounded) for them to stop.
func (p *pool) close() {
	for _, s := range p.subs {
		_ = s.c.Close()
	}
	deadline := time.After(15 * time.Second)
	for _, s := range p.subs {
		select {
		case <-s.c.Done():
		case <-deadline:
			return
		}
	}
}

// reconnectsSince returns the reconnection times (from the close to the
// next open) recorded after before was taken.
func (p *pool) reconnectsSince(before poolStats) []time.Duration {
	var out []time.Duration
	for i, s := range p.subs {
		s.mu.Lock()
		if i < len(before.reconnN) && before.reconnN[i] < len(s.reconnects) {
			out = append(out, s.reconnects[before.reconnN[i]:]...)
		}
		s.mu.Unlock()
	}
	return out
}
