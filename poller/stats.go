package poller

import (
	"strconv"
	"sync/atomic"
	"time"
)

// UpgradeResult classifies how a handshake ended, for Stats.Upgrades.
type UpgradeResult uint8

// Handshake outcomes.
const (
	UpgradeAccepted     UpgradeResult = iota // 101 Switching Protocols
	UpgradeBadRequest                        // 400/405/426/505 from the handshake rules (RFC 6455 §4.2.1)
	UpgradeHeadTooLarge                      // 431: request head over the limit
	UpgradeOrigin                            // 403: Origin not allowed
	UpgradeAuth                              // refused by the authentication hook
	UpgradeConnLimit                         // 503: total connection limit
	UpgradeIPLimit                           // 429: connections per client IP
	UpgradeRateLimit                         // 503: upgrade rate limit
	UpgradeDraining                          // 503: server shutting down
	UpgradeTimeout                           // handshake not completed in time
	UpgradeProxy                             // 400: bad PROXY protocol header
	NumUpgradeResults
)

var upgradeResultNames = [NumUpgradeResults]string{
	"accepted", "bad_request", "head_too_large", "origin", "auth",
	"conn_limit", "ip_limit", "rate_limit", "draining", "timeout", "proxy",
}

// String returns the result's metric label, such as "accepted".
func (r UpgradeResult) String() string {
	if r < NumUpgradeResults {
		return upgradeResultNames[r]
	}
	return "unknown"
}

// HandlerBuckets are the upper bounds, in seconds, of Stats.HandlerSeconds.
var HandlerBuckets = []float64{
	0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Histogram is a snapshot of a cumulative histogram, in Prometheus' shape:
// Counts[i] is the number of observations at most Bounds[i].
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64 // seconds
}

// Stats is a snapshot of the engine's counters and gauges. Counters only
// grow during the engine's life.
type Stats struct {
	ConnectionsOpen int64 // upgraded connections now open
	TCPConnections  int64 // TCP connections now open, upgraded or not

	Upgrades [NumUpgradeResults]uint64 // handshakes by outcome

	MessagesIn  uint64 // data messages received (dispatched to the handler)
	BytesIn     uint64 // their payload bytes as received (compressed ones before inflation)
	MessagesOut uint64 // data messages written or buffered for the peer
	BytesOut    uint64 // their frame bytes (as sent: compressed, with headers)

	// Closes counts ended connections by the close code OnClose reported
	// ("1000".."1015"; "other" for application codes).
	Closes map[string]uint64

	QueuedMessages int64 // items waiting for a worker or being handled
	QueuedBytes    int64 // bytes of messages waiting for a worker or being handled
	// OutboundBytes is what waits to be sent: frames queued by Send and
	// Close that the loops have not yet handed to the socket, plus gnet's
	// outbound buffers of the connections that had some at their last
	// write, as of each loop's last sweep.
	OutboundBytes int64

	SlowConsumerDrops  uint64 // messages dropped by the slow-consumer policy
	SlowConsumerCloses uint64 // connections closed 1008 as slow consumers
	RateLimitCloses    uint64 // connections closed 1008 for inbound rate
	// Conflated counts fan-out messages replaced by a newer one with the
	// same key while their conflating subscriber was behind.
	Conflated uint64

	// HandlerSeconds is the time OnMessage calls took, sampled: one call in
	// 16 on each event loop (the first, the 17th, ...) is timed and counts
	// for 16, so Count is a multiple of 16, at most 15 ahead of the calls
	// per loop.
	HandlerSeconds Histogram
}

// counters are the engine's statistics. Those written on an event loop
// live in its loop (no sharing between cores); the rest are here.
type counters struct {
	upgrades      [NumUpgradeResults]atomic.Uint64
	slowDrops     atomic.Uint64
	slowCloses    atomic.Uint64
	rateCloses    atomic.Uint64
	handlerCounts []atomic.Uint64
	handlerCount  atomic.Uint64
	handlerNanos  atomic.Uint64
}

// loopCounters are one loop's figures, read by Stats: written by that loop
// only, except outQueued, which Send and Close add to from any goroutine.
type loopCounters struct {
	msgsIn, bytesIn   atomic.Uint64
	msgsOut, bytesOut atomic.Uint64
	closes            [17]atomic.Uint64 // 1000..1015, then other
	outBuffered       atomic.Int64      // gnet's outbound buffers at the last sweep
	outQueued         atomic.Int64      // bytes queued by Send and Close, not yet taken by the loop (any goroutine)
	conflated         atomic.Uint64     // fan-out messages replaced in a backlog
}

func (l *loopCounters) countClose(code int) {
	i := code - 1000
	if i < 0 || i > 15 {
		i = 16
	}
	l.closes[i].Add(1)
}

// handlerSample: one OnMessage call in handlerSample on each loop (the
// first of every handlerSample messages the loop reads) is timed (two clock
// readings and three shared counters per call would cost more than many
// handlers do); each timed call counts for handlerSample calls.
const handlerSample = 16

// observeHandler records a sampled OnMessage duration, weighing for n calls.
func (s *counters) observeHandler(d time.Duration, n uint64) {
	sec := d.Seconds()
	for i, b := range HandlerBuckets {
		if sec <= b {
			s.handlerCounts[i].Add(n)
			break
		}
	}
	s.handlerCount.Add(n)
	s.handlerNanos.Add(uint64(d) * n)
}

// Stats returns a snapshot of the engine's counters. Safe from any
// goroutine; the figures are read one by one, not as one atomic snapshot.
func (e *Engine) Stats() Stats {
	s := Stats{
		ConnectionsOpen:    e.open.Load(),
		TCPConnections:     e.conns.Load(),
		QueuedMessages:     e.pool.Queued(),
		QueuedBytes:        e.queuedBytes.Load(),
		SlowConsumerDrops:  e.stats.slowDrops.Load(),
		SlowConsumerCloses: e.stats.slowCloses.Load(),
		RateLimitCloses:    e.stats.rateCloses.Load(),
		Closes:             make(map[string]uint64),
	}
	for i := range s.Upgrades {
		s.Upgrades[i] = e.stats.upgrades[i].Load()
	}
	for _, l := range e.loopList() {
		lc := &l.stats
		s.MessagesIn += lc.msgsIn.Load()
		s.BytesIn += lc.bytesIn.Load()
		s.MessagesOut += lc.msgsOut.Load()
		s.BytesOut += lc.bytesOut.Load()
		s.OutboundBytes += lc.outBuffered.Load() + lc.outQueued.Load()
		s.Conflated += lc.conflated.Load()
		for i := range lc.closes {
			if n := lc.closes[i].Load(); n > 0 {
				key := "other"
				if i < 16 {
					key = strconv.Itoa(1000 + i)
				}
				s.Closes[key] += n
			}
		}
	}
	h := &s.HandlerSeconds
	h.Bounds = HandlerBuckets
	h.Counts = make([]uint64, len(HandlerBuckets))
	var cum uint64
	for i := range HandlerBuckets {
		cum += e.stats.handlerCounts[i].Load()
		h.Counts[i] = cum
	}
	h.Count = e.stats.handlerCount.Load()
	h.Sum = time.Duration(e.stats.handlerNanos.Load()).Seconds()
	return s
}
