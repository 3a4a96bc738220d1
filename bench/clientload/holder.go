//go:build linux

package clientload

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// held is one held connection of any kind.
type held interface {
	// alive reports whether the connection is up (for wsloop: the
	// client is connected now).
	alive() bool
	// close starts closing the connection; it does not wait.
	close()
}

// kind dials connections of one client library.
type kind interface {
	dial(ctx context.Context, i int) (held, error)
	// wait waits until every connection's goroutine has ended after
	// close, and reports false if deadline came first.
	wait(conns []held, deadline <-chan time.Time) bool
}

// counters are the connection events every kind reports.
type counters struct {
	opens atomic.Int64 // connections established (wsloop: OnOpen, including reconnections)
	ends  atomic.Int64 // connections that ended
}

// Holder holds the connections of one Config.
type Holder struct {
	cfg  Config
	src  *sources
	kind kind
	ev   counters

	mu       sync.Mutex
	conns    []held
	failed   int
	firstErr error
	secs     float64
}

// New prepares a Holder; it opens nothing yet (see Connect).
func New(cfg Config) (*Holder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	src, err := newSources(cfg.Src, cfg.SrcCount, cfg.SampleEvery)
	if err != nil {
		return nil, err
	}
	h := &Holder{cfg: cfg, src: src}
	switch cfg.Kind {
	case "wsloop":
		h.kind = newWsloopKind(cfg, src, &h.ev)
	case "gorilla":
		h.kind = newGorillaKind(cfg, src, &h.ev)
	case "coder":
		h.kind = newCoderKind(cfg, src, &h.ev)
	}
	return h, nil
}

// Connect opens cfg.Conns connections, Inflight at a time, each dial
// bounded by DialTimeout, and returns how many succeeded and failed and
// how long it took. A failed dial is not retried. ctx bounds the whole.
func (h *Holder) Connect(ctx context.Context) (ok, failed int, secs float64, firstErr error) {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(h.cfg.Inflight, h.cfg.Conns) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= h.cfg.Conns || ctx.Err() != nil {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, h.cfg.DialTimeout)
				c, err := h.kind.dial(dctx, i)
				cancel()
				h.mu.Lock()
				if err != nil {
					h.failed++
					if h.firstErr == nil {
						h.firstErr = err
					}
				} else {
					h.conns = append(h.conns, c)
				}
				h.mu.Unlock()
			}
		})
	}
	wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed += h.cfg.Conns - len(h.conns) - h.failed // never started: ctx ended
	if h.firstErr == nil && ctx.Err() != nil && h.failed > 0 {
		h.firstErr = ctx.Err()
	}
	h.secs = time.Since(start).Seconds()
	return len(h.conns), h.failed, h.secs, h.firstErr
}

// Close closes every connection and waits up to timeout for them to end;
// false means some had not.
func (h *Holder) Close(timeout time.Duration) bool {
	h.mu.Lock()
	conns := h.conns
	h.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	return h.kind.wait(conns, t.C)
}

// waitGroup waits for wg or deadline: the peers' wait.
func waitGroup(wg *sync.WaitGroup, deadline <-chan time.Time) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-deadline:
		return false
	}
}
