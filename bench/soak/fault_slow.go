package soak

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// bulkTopic carries the large messages that fill the stalled client's
// queue quickly; no other subscriber takes it.
const bulkTopic = "soak.bulk"

// bulkSize is the payload of each bulk message (a JSON string).
const bulkSize = 32 << 10

// rssBound is how much the workers' RSS may grow while a client does not
// read: its queue is capped at -max-outbound, and the kernel's socket
// buffers and allocator slack come on top.
const rssBound = 64 << 20

// faultSlow connects a client with a tiny receive buffer that subscribes
// to md.all and the bulk topic and never reads, then publishes bulk
// messages until the server closes it as a slow consumer: the workers'
// memory must stay bounded and everyone else keep receiving.
func (r *runner) faultSlow(ctx context.Context) {
	const phase = PhaseSlow
	before := r.pool.stats()
	closes0 := r.sumMetric(ctx, "wsloop_slow_consumer_disconnects_total")
	rss0 := r.workersRSS()
	from := r.now()
	conn, err := dialStalled(ctx, r.feed.addr, "md.all", bulkTopic)
	if err != nil {
		r.res.check(phase, "stalled client connected", false, err.Error(), "")
		return
	}
	defer conn.Close()
	r.logf("slow: a client that never reads subscribed to md.all and %s", bulkTopic)
	payload := append(append([]byte(`"`), bytes.Repeat([]byte("x"), bulkSize)...), '"')
	start := time.Now()
	var peak int64
	var published int
	var closes float64
	for time.Since(start) < r.cfg.SlowWatch && ctx.Err() == nil {
		if err := publish(ctx, r.feed.adminOf(0), bulkTopic, payload); err == nil {
			published++
		}
		peak = max(peak, r.workersRSS())
		if closes = r.sumMetric(ctx, "wsloop_slow_consumer_disconnects_total"); closes > closes0 {
			break
		}
		r.sleep(ctx, 20*time.Millisecond)
	}
	took := time.Since(start)
	r.sleep(ctx, 2*time.Second)
	after := r.pool.stats()
	r.window("slow reader", from)
	r.res.check(phase, "closed as a slow consumer", closes > closes0,
		fmt.Sprintf("after %s and %d bulk messages of %d KiB (%.1f MiB)", secs(took), published, bulkSize>>10, float64(published*bulkSize)/(1<<20)),
		fmt.Sprintf("wsloop_slow_consumer_disconnects_total rises within %v (-max-outbound %d)", r.cfg.SlowWatch, r.cfg.MaxOutbound))
	r.res.check(phase, "worker memory bounded", peak-rss0 < rssBound,
		fmt.Sprintf("workers' RSS %.1f → peak %.1f MiB (+%.1f)", mib(rss0), mib(peak), mib(peak-rss0)), fmt.Sprintf("growth < %d MiB", rssBound>>20))
	kept := 0
	for i := range after.received {
		if after.received[i] > before.received[i] {
			kept++
		}
	}
	r.res.check(phase, "others kept receiving", kept == after.Subscribers, fmt.Sprintf("%d of %d subscribers", kept, after.Subscribers), "all")
	r.res.streamChecks(phase, before, after)
	r.logf("slow: closed=%v after %s, RSS +%.1f MiB", closes > closes0, secs(took), mib(peak-rss0))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// sumMetric sums one metric over the feed's workers.
func (r *runner) sumMetric(ctx context.Context, name string) float64 {
	var n float64
	for slot := range r.cfg.Procs {
		if m, err := scrape.Get(ctx, r.feed.adminOf(slot)); err == nil {
			n += m[name]
		}
	}
	return n
}

// workersRSS sums the workers' RSS now.
func (r *runner) workersRSS() int64 {
	var n int64
	for _, pid := range r.feed.workers() {
		if v, err := procfs.RSS(pid); err == nil {
			n += v
		}
	}
	return n
}

// publish posts data on topic through an admin endpoint.
func publish(ctx context.Context, admin, topic string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+admin+"/publish/"+topic, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("publish: %s", resp.Status)
	}
	return nil
}
