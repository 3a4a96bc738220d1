package impair

import (
	"errors"
	"time"
)

// ErrUnsupported is returned by New and Supported where the link cannot be
// built (not Linux).
var ErrUnsupported = errors.New("impair: not supported on this platform")

// DefaultQueueLimit is the default per-direction queue length, in packets
// (netem's default limit).
const DefaultQueueLimit = 1000

// Config is a link's impairment, applied to each direction independently.
// The zero Config forwards every packet at once.
type Config struct {
	// Loss is the probability, 0 to 1, that a packet is dropped.
	Loss float64
	// Reorder is the probability that a packet is held back for an extra
	// max(Delay+Jitter, 5 ms), so that later packets overtake it.
	Reorder float64
	// Duplicate is the probability that a packet is sent twice.
	Duplicate float64
	// Delay is added to every packet.
	Delay time.Duration
	// Jitter varies each packet's delay uniformly by up to ±Jitter; order
	// is kept (only Reorder reorders).
	Jitter time.Duration
	// Rate limits each direction to Rate bytes per second (IP packets,
	// headers included); 0 means unlimited.
	Rate int
	// QueueLimit bounds the packets held per direction; a packet that
	// finds it full is dropped (Stats Overflow). 0 means
	// DefaultQueueLimit.
	QueueLimit int
}

// normalized returns c with probabilities clamped to [0, 1], negative
// durations and rates set to 0 and the default queue limit filled in.
func (c Config) normalized() Config {
	clamp := func(p float64) float64 {
		if !(p > 0) { // also NaN
			return 0
		}
		return min(p, 1)
	}
	c.Loss, c.Reorder, c.Duplicate = clamp(c.Loss), clamp(c.Reorder), clamp(c.Duplicate)
	c.Delay, c.Jitter, c.Rate = max(c.Delay, 0), max(c.Jitter, 0), max(c.Rate, 0)
	if c.QueueLimit <= 0 {
		c.QueueLimit = DefaultQueueLimit
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// Stats counts packets per direction since New.
type Stats struct {
	ToNS   DirStats // from the host to the namespace
	ToHost DirStats // from the namespace to the host
}

// DirStats counts one direction's packets. Every received packet ends in
// exactly one of Forwarded, Lost, Blackholed, Overflow or Errors (or is
// still queued); duplicates add to Duplicated and then to one of those.
type DirStats struct {
	Received   uint64 // read from the sending side
	Forwarded  uint64 // written to the receiving side, duplicates included
	Lost       uint64 // dropped by Loss
	Blackholed uint64 // dropped by Blackhole, on arrival or while queued
	Overflow   uint64 // dropped because the queue was full
	Errors     uint64 // the write to the receiving side failed
	Delayed    uint64 // held for a positive time before release
	Reordered  uint64 // held back by Reorder
	Duplicated uint64 // extra copies made by Duplicate
}

// Dropped is the number of packets that were not forwarded, for whatever
// reason.
func (s DirStats) Dropped() uint64 { return s.Lost + s.Blackholed + s.Overflow + s.Errors }
