package admit

import (
	"time"

	"golang.org/x/time/rate"
)

// Inbound is one connection's inbound rate limits: token buckets of
// messages and of bytes per second. Its owner keeps one only while the
// connection is sending (see Full). Not safe for concurrent use: one
// connection's messages are checked on its event loop.
type Inbound struct {
	msgs, bytes *rate.Limiter // nil: that limit is off
}

// Over says which limit a message broke.
type Over uint8

// Limits broken.
const (
	Within Over = iota
	OverMessages
	OverBytes
)

// NewInbound returns buckets for msgs messages and bytes bytes per second
// (0: no limit), each holding burst seconds' worth (at least one message,
// one byte).
func NewInbound(msgs, bytes, burst float64) *Inbound {
	if burst <= 0 {
		burst = 1
	}
	in := new(Inbound)
	if msgs > 0 {
		in.msgs = rate.NewLimiter(rate.Limit(msgs), max(1, int(msgs*burst)))
	}
	if bytes > 0 {
		in.bytes = rate.NewLimiter(rate.Limit(bytes), max(1, int(bytes*burst)))
	}
	return in
}

// Allow takes one message of n bytes at now. A message larger than the
// byte bucket takes the whole bucket.
func (in *Inbound) Allow(now time.Time, n int) Over {
	if in.msgs != nil && !in.msgs.AllowN(now, 1) {
		return OverMessages
	}
	if in.bytes != nil && !in.bytes.AllowN(now, min(n, in.bytes.Burst())) {
		return OverBytes
	}
	return Within
}

// Full reports whether both buckets have refilled at now: the connection
// has been quiet long enough that forgetting them changes nothing.
func (in *Inbound) Full(now time.Time) bool {
	return full(in.msgs, now) && full(in.bytes, now)
}

func full(lim *rate.Limiter, now time.Time) bool {
	return lim == nil || lim.TokensAt(now) >= float64(lim.Burst())
}
