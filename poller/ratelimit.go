package poller

import (
	"time"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
	"golang.org/x/time/rate"
)

// Errors for connections over their inbound rate (Config.RateMessages,
// Config.RateBytes).
var (
	errRateMessages = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "message rate limit exceeded"}
	errRateBytes    = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "byte rate limit exceeded"}
)

// inLimit is one connection's inbound token buckets. It exists only while
// the connection is sending: the sweep drops it once both buckets are full
// again, so a million idle connections hold none.
type inLimit struct {
	msgs, bytes *rate.Limiter
}

func (e *Engine) rateLimited() bool { return e.cfg.RateMessages > 0 || e.cfg.RateBytes > 0 }

// allow takes one message of n bytes from c's buckets and returns the
// error to close c with when it is over a limit; on the loop. A message
// larger than the byte bucket's burst takes the whole burst.
func (l *loop) allow(c *Conn, n int) *codec.CloseError {
	cfg := &l.eng.cfg
	lim := l.limits[c]
	if lim == nil {
		if l.limits == nil {
			l.limits = make(map[*Conn]*inLimit)
		}
		burst := cfg.RateBurst
		if burst <= 0 {
			burst = 1
		}
		lim = new(inLimit)
		if cfg.RateMessages > 0 {
			lim.msgs = rate.NewLimiter(rate.Limit(cfg.RateMessages), max(1, int(cfg.RateMessages*burst)))
		}
		if cfg.RateBytes > 0 {
			lim.bytes = rate.NewLimiter(rate.Limit(cfg.RateBytes), max(1, int(cfg.RateBytes*burst)))
		}
		l.limits[c] = lim
	}
	now := time.Now()
	if lim.msgs != nil && !lim.msgs.AllowN(now, 1) {
		return errRateMessages
	}
	if lim.bytes != nil && !lim.bytes.AllowN(now, min(n, lim.bytes.Burst())) {
		return errRateBytes
	}
	return nil
}

// dropLimiter forgets c's buckets; on the loop.
func (l *loop) dropLimiter(c *Conn) {
	if l.limits != nil {
		delete(l.limits, c)
	}
}

// trimLimiters drops the buckets of connections that have been quiet long
// enough to refill them; on the loop, from the sweep.
func (l *loop) trimLimiters(now time.Time) {
	for c, lim := range l.limits {
		if full(lim.msgs, now) && full(lim.bytes, now) {
			delete(l.limits, c)
		}
	}
}

func full(lim *rate.Limiter, now time.Time) bool {
	return lim == nil || lim.TokensAt(now) >= float64(lim.Burst())
}
