package soak

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/wsloop/wsloop/client"
)

// probe subscribes afresh to topics at url and returns each topic's
// current position (the subscription answer's).
func probe(ctx context.Context, url string, topics []string, dial func(context.Context, string, string) (net.Conn, error)) (map[string]client.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	opts := []client.Option{client.WithSubprotocols(client.SubprotocolBinary), client.WithoutReconnect()}
	if dial != nil {
		opts = append(opts, client.WithNetDial(dial))
	}
	c, err := client.Dial(ctx, url, opts...)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	defer c.Close()
	type ans struct {
		topic string
		ev    client.SubscribeEvent
	}
	ch := make(chan ans, len(topics))
	for _, t := range topics {
		err := c.Subscribe(t, client.SubscribeOptions{OnSubscribed: func(_ *client.Client, ev client.SubscribeEvent) {
			select {
			case ch <- ans{t, ev}:
			default:
			}
		}})
		if err != nil {
			return nil, err
		}
	}
	out := map[string]client.Position{}
	for len(out) < len(topics) {
		select {
		case a := <-ch:
			if a.ev.Err != nil {
				return nil, a.ev.Err
			}
			out[a.topic] = a.ev.Position
		case <-ctx.Done():
			return nil, fmt.Errorf("probe: %d of %d answers: %w", len(out), len(topics), ctx.Err())
		}
	}
	return out, nil
}

// topicsOf lists the distinct topics of a pool.
func (p *pool) topicsOf() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.subs {
		s.mu.Lock()
		for t := range s.tracks {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		s.mu.Unlock()
	}
	return out
}

// catchUp probes the topics' positions now and waits (at most d) until
// every subscriber of p delivered them.
func catchUp(ctx context.Context, p *pool, url string, d time.Duration) (time.Duration, error) {
	want, err := probe(ctx, url, p.topicsOf(), nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = waitFor(ctx, d, "subscribers caught up", func() bool { return p.caughtUp(want) })
	return time.Since(start), err
}
