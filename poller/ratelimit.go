package poller

import (
	"time"

	"github.com/gobwas/ws"
	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/internal/admit"
)

// Errors for connections over their inbound rate (Config.RateMessages,
// Config.RateBytes).
var (
	errRateMessages = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "message rate limit exceeded"}
	errRateBytes    = &codec.CloseError{Code: ws.StatusPolicyViolation, Reason: "byte rate limit exceeded"}
)

func (e *Engine) rateLimited() bool { return e.cfg.RateMessages > 0 || e.cfg.RateBytes > 0 }

// allow takes one message of n bytes from c's buckets and returns the
// error to close c with when it is over a limit; on the loop. A
// connection's buckets exist only while it is sending: the sweep drops
// them once both are full again, so a million idle connections hold none.
func (l *loop) allow(c *Conn, n int) *codec.CloseError {
	cfg := &l.eng.cfg
	lim := l.limits[c]
	if lim == nil {
		if l.limits == nil {
			l.limits = make(map[*Conn]*admit.Inbound)
		}
		lim = admit.NewInbound(cfg.RateMessages, cfg.RateBytes, cfg.RateBurst)
		l.limits[c] = lim
	}
	switch lim.Allow(time.Now(), n) {
	case admit.OverMessages:
		return errRateMessages
	case admit.OverBytes:
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
		if lim.Full(now) {
			delete(l.limits, c)
		}
	}
}
