package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// faultNATS stops the NATS server (SIGTERM), keeps it down for
// NATSOutage and starts it again on the same port and store: the workers
// must reconnect and the feed continue, and no subscriber may see a gap it
// cannot recover. Publications the feed could not make during the outage
// fail at the source; they are counted, not subscriber gaps.
func (r *runner) faultNATS(ctx context.Context) {
	const phase = PhaseNATS
	before := r.pool.stats()
	logPath := filepath.Join(r.dir, "wsloop.log")
	logOff := fileSize(logPath)
	pub0 := r.publishes(ctx)
	from := r.now()
	r.logf("NATS stop")
	r.nats.stop()
	r.sleep(ctx, r.cfg.NATSOutage)
	up := r.now()
	if err := r.nats.start(ctx); err != nil {
		r.res.check(phase, "NATS restarted", false, err.Error(), "")
		return
	}
	r.logf("NATS started again after %s down", secs(time.Duration((up-from)*float64(time.Second))))
	at := r.pool.positions()["md.all"]
	restarted := time.Now()
	err := waitFor(ctx, r.cfg.NATSWatch+20*time.Second, "feed flowing again", func() bool {
		p := r.pool.positions()["md.all"]
		return p.Epoch == at.Epoch && p.Seq >= at.Seq+uint64(2*r.cfg.FeedRate)
	})
	flowing := time.Since(restarted)
	r.res.check(phase, "feed continues", err == nil,
		fmt.Sprintf("every md.all subscriber 2 s of feed further %s after NATS was back", secs(flowing)), fmt.Sprintf("within %v", r.cfg.NATSWatch+20*time.Second))
	r.sleep(ctx, r.cfg.NATSWatch)
	after := r.pool.stats()
	pub1 := r.publishes(ctx)
	r.window("NATS restart", from)
	r.res.streamChecks(phase, before, after)
	elapsed := r.now() - from
	expected := 2 * r.cfg.FeedRate * elapsed
	r.res.info(phase, "publications lost at the source", fmt.Sprintf("%d failed publishes logged by the feed; %.0f published of about %.0f due in %.0f s (not subscriber gaps)",
		feedFailures(logPath, logOff), pub1-pub0, expected, elapsed))
	r.res.check(phase, "subscribers stayed connected", after.Closes == before.Closes, fmt.Sprintf("%d disconnects", after.Closes-before.Closes), "0 (NATS is behind the workers)")
}

// publishes sums wsloop_pubsub_publishes_total over the workers.
func (r *runner) publishes(ctx context.Context) float64 {
	return r.sumMetric(ctx, "wsloop_pubsub_publishes_total")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

var failuresRE = regexp.MustCompile(`feed: publish failed.*failures=(\d+)`)

// feedFailures is the feed's failed-publish count logged after offset:
// the feed logs its running total at most once a second, so the largest
// value seen after offset minus the last one before is the count.
func feedFailures(path string, off int64) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	count := func(b []byte) int {
		n := 0
		for _, m := range failuresRE.FindAllSubmatch(b, -1) {
			v, _ := strconv.Atoi(string(m[1]))
			n = max(n, v)
		}
		return n
	}
	off = min(off, int64(len(b)))
	return max(0, count(b[off:])-count(b[:off]))
}
