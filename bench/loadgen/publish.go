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
	"time"
)

// PublishConfig describes a fan-out publisher: publication k (k = 0, 1, …)
// is due at Start + k/Rate, goes to topic k mod Topics as that topic's
// publication number k/Topics + 1, and is posted to every endpoint at once
// (POST http://ENDPOINT/publish/TOPIC, the payload as body); it is done
// when every endpoint has answered. Rate is the total over all topics.
// Only publications due before End are made; one that cannot start before
// Cutoff (the endpoints are slower than the rate) is skipped.
type PublishConfig struct {
	Endpoints []string // host:port, 127.0.0.0/8 only
	Topics    []string // publication k goes to Topics[k%len(Topics)]
	Size      int      // payload bytes (at least MinPayload)
	Rate      float64  // publications per second over all topics, > 0
	Start     time.Time
	End       time.Time
	Cutoff    time.Time // default End
	// Lanes is the number of publications in flight at once; topics are
	// split among them (topic i on lane i mod Lanes), each lane with its
	// own keep-alive connection per endpoint, so each topic's publications
	// are posted in order. Default min(Topics, 4).
	Lanes int
	// Timeout bounds one request; default 5s.
	Timeout time.Duration
}

// PublishResult is what a publisher did.
type PublishResult struct {
	Publications  int64   // publications due before End
	Posted        int64   // publications every endpoint answered 2xx
	Posts         int64   // requests answered 2xx (Posted × endpoints when all went well)
	Errors        int64   // requests failed or answered otherwise
	Skipped       int64   // publications not started by Cutoff (or before ctx ended)
	SkippedDue    []int64 // their due times, Unix ns
	MaxLagMillis  float64 // the latest a publication started after its due time
	MaxPostMillis float64 // the longest request
	FirstError    string  // the first failure, for the report
}

// maxPublications bounds one publisher run.
const maxPublications = 10_000_000

// Publish runs the publisher and reports once every lane is done (at End,
// or Cutoff plus the last requests' answers, or when ctx ends); the error
// is only for a configuration it refuses. A publication that starts late
// still carries its due time as the payload's timestamp, so a slow publish
// endpoint shows in the latencies instead of hiding (no coordinated
// omission).
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
	if cfg.Cutoff.IsZero() {
		cfg.Cutoff = cfg.End
	}
	if cfg.Lanes <= 0 {
		cfg.Lanes = 4
	}
	cfg.Lanes = min(cfg.Lanes, len(cfg.Topics))
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}

	var (
		mu sync.Mutex // guards res from here on
		wg sync.WaitGroup
	)
	for lane := range cfg.Lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			posters := make([]*poster, len(cfg.Endpoints))
			for e, ep := range cfg.Endpoints {
				posters[e] = newPoster(cfg, ep)
				defer posters[e].client.CloseIdleConnections()
			}
			for k := int64(0); k < total; k++ {
				topic := int(k % int64(len(cfg.Topics)))
				if topic%cfg.Lanes != lane {
					continue
				}
				at := due(cfg, k)
				if sleepUntil(ctx, at) != nil || time.Now().After(cfg.Cutoff) {
					mu.Lock()
					res.Skipped++
					res.SkippedDue = append(res.SkippedDue, at.UnixNano())
					mu.Unlock()
					continue
				}
				began := time.Now()
				errs := postAll(ctx, posters, topic, at, uint32(k/int64(len(cfg.Topics))+1))
				mu.Lock()
				res.MaxLagMillis = max(res.MaxLagMillis, float64(began.Sub(at))/1e6)
				res.MaxPostMillis = max(res.MaxPostMillis, float64(time.Since(began))/1e6)
				failed := 0
				for _, err := range errs {
					if err == nil {
						continue
					}
					failed++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
				}
				res.Errors += int64(failed)
				res.Posts += int64(len(errs) - failed)
				if failed == 0 {
					res.Posted++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return res, nil
}

// postAll posts one publication to every endpoint at once and returns each
// request's error.
func postAll(ctx context.Context, posters []*poster, topic int, at time.Time, n uint32) []error {
	errs := make([]error, len(posters))
	var wg sync.WaitGroup
	for e, p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[e] = p.post(ctx, topic, at, n)
		}()
	}
	wg.Wait()
	return errs
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

// poster posts to one endpoint over one keep-alive connection; one lane's
// goroutine uses it, one request at a time.
type poster struct {
	cfg    PublishConfig
	base   string
	client *http.Client
	body   []byte
}

func newPoster(cfg PublishConfig, endpoint string) *poster {
	tr := &http.Transport{
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		Proxy:               nil, // loopback only: never through a proxy
	}
	return &poster{
		cfg:    cfg,
		base:   "http://" + endpoint + "/publish/",
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout},
		body:   make([]byte, 0, cfg.Size),
	}
}

func (p *poster) post(ctx context.Context, topic int, at time.Time, n uint32) error {
	p.body = AppendPayload(p.body[:0], p.cfg.Size, at.UnixNano(), topic, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+p.cfg.Topics[topic], bytes.NewReader(p.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
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
