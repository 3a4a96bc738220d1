package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// PublishConfig describes a fan-out publisher: publication k (k = 0, 1, …)
// is due at Start + k/Rate, goes to topic k mod Topics as that topic's
// publication number k/Topics + 1, and is posted to every endpoint (POST
// http://ENDPOINT/publish/TOPIC, the payload as body). Rate is therefore
// the total over all topics, and every endpoint gets every publication.
// Publishing stops at End.
type PublishConfig struct {
	Endpoints []string // host:port, 127.0.0.0/8 only
	Topics    []string // publication k goes to Topics[k%len(Topics)]
	Size      int      // payload bytes (at least MinPayload)
	Rate      float64  // publications per second over all topics, > 0
	Start     time.Time
	End       time.Time
	// Conns is the number of keep-alive connections per endpoint; topics
	// are split among them (topic i on connection i mod Conns), so each
	// topic's publications are posted in order. Default min(Topics, 4).
	Conns int
	// Timeout bounds one request; default 5s.
	Timeout time.Duration
}

// PublishResult is what a publisher did. A request not yet started or
// not answered when ctx ends counts as Unposted (a publish endpoint slower
// than the rate), not as an error.
type PublishResult struct {
	Publications  int64   // publications due before End (each to be posted to every endpoint)
	Posts         int64   // requests answered 2xx
	PostsPer      []int64 // the same per endpoint, in Endpoints order
	Errors        int64   // requests failed or answered otherwise
	Unposted      int64   // requests cut off by ctx
	MaxLagMillis  float64 // the latest a request started after its due time
	MaxPostMillis float64 // the longest request
	FirstError    string  // the first failure, for the report
}

// maxPublications bounds one publisher run.
const maxPublications = 10_000_000

// Publish runs the publisher until End (or ctx ends) and reports; the error
// is only for a configuration it refuses. Each
// (endpoint, connection) pair is one goroutine posting its share of the
// schedule in order; a request that starts late still carries its due time
// as the payload's timestamp, so a slow publish endpoint shows in the
// latencies instead of hiding (no coordinated omission).
func Publish(ctx context.Context, cfg PublishConfig) (PublishResult, error) {
	var res PublishResult
	switch {
	case len(cfg.Endpoints) == 0 || len(cfg.Topics) == 0:
		return res, errors.New("loadgen: publish needs endpoints and topics")
	case cfg.Rate <= 0 || math.IsInf(cfg.Rate, 0) || math.IsNaN(cfg.Rate):
		return res, fmt.Errorf("loadgen: publish rate %v", cfg.Rate)
	case cfg.Size < MinPayload || cfg.Size > 16<<20:
		return res, fmt.Errorf("loadgen: publish size %d out of range [%d, 16 MiB]", cfg.Size, MinPayload)
	case !cfg.End.After(cfg.Start):
		return res, errors.New("loadgen: publish window is empty")
	}
	for _, ep := range cfg.Endpoints {
		if _, err := ParseLoopbackAddr(ep); err != nil {
			return res, err
		}
	}
	total := int64(math.Ceil(cfg.End.Sub(cfg.Start).Seconds() * cfg.Rate))
	for total > 0 && due(cfg, total-1).Compare(cfg.End) >= 0 {
		total--
	}
	if total > maxPublications {
		return res, fmt.Errorf("loadgen: %d publications exceed the bound of %d", total, maxPublications)
	}
	res.Publications = total
	if cfg.Conns <= 0 {
		cfg.Conns = min(len(cfg.Topics), 4)
	}
	cfg.Conns = min(cfg.Conns, len(cfg.Topics))
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}

	var (
		errs, unposted atomic.Int64
		posts          = make([]atomic.Int64, len(cfg.Endpoints))
		lagMu          sync.Mutex
		wg             sync.WaitGroup
	)
	for e, ep := range cfg.Endpoints {
		for part := range cfg.Conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := newPostWorker(cfg, ep)
				defer w.client.CloseIdleConnections()
				for k := int64(0); k < total; k++ {
					topic := int(k % int64(len(cfg.Topics)))
					if topic%cfg.Conns != part {
						continue
					}
					at := due(cfg, k)
					if sleepUntil(ctx, at) != nil {
						unposted.Add(1)
						continue
					}
					began := time.Now()
					err := w.post(ctx, topic, at, uint32(k/int64(len(cfg.Topics))+1))
					if err != nil && ctx.Err() != nil {
						unposted.Add(1)
						continue
					}
					lagMu.Lock()
					res.MaxLagMillis = max(res.MaxLagMillis, float64(began.Sub(at))/1e6)
					res.MaxPostMillis = max(res.MaxPostMillis, float64(time.Since(began))/1e6)
					if err != nil && res.FirstError == "" {
						res.FirstError = err.Error()
					}
					lagMu.Unlock()
					if err != nil {
						errs.Add(1)
					} else {
						posts[e].Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	res.Errors, res.Unposted = errs.Load(), unposted.Load()
	for e := range posts {
		res.PostsPer = append(res.PostsPer, posts[e].Load())
		res.Posts += posts[e].Load()
	}
	return res, nil
}

// due is publication k's due time.
func due(cfg PublishConfig, k int64) time.Time {
	return cfg.Start.Add(time.Duration(float64(k) * 1e9 / cfg.Rate))
}

func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// postWorker posts over one keep-alive connection.
type postWorker struct {
	cfg    PublishConfig
	base   string
	client *http.Client
	body   []byte
}

func newPostWorker(cfg PublishConfig, endpoint string) *postWorker {
	tr := &http.Transport{
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		Proxy:               nil, // loopback only: never through a proxy
	}
	return &postWorker{
		cfg:    cfg,
		base:   "http://" + endpoint + "/publish/",
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout},
		body:   make([]byte, 0, cfg.Size),
	}
}

func (w *postWorker) post(ctx context.Context, topic int, at time.Time, n uint32) error {
	w.body = AppendPayload(w.body[:0], w.cfg.Size, at.UnixNano(), topic, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+w.cfg.Topics[topic], bytes.NewReader(w.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", req.URL, resp.Status)
	}
	return nil
}
