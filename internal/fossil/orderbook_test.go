package fossil

import (
	"math/rand/v2"
	"strconv"
)

// book is a deterministic order-book feed for tests and benchmarks: each
// snapshot is the JSON a market-data publication carries, and consecutive
// snapshots differ in one to three levels, as a real book's do.
type book struct {
	r          *rand.Rand
	seq        int
	ts         int64
	bids, asks []level // best first
}

// level is one price level, in cents and hundred-millionths.
type level struct {
	price, size int64
}

// newBook returns a book of depth levels a side, seeded with seed.
func newBook(seed uint64, depth int) *book {
	b := &book{r: rand.New(rand.NewPCG(seed, 14)), seq: 1_000_000, ts: 1_767_225_600_000}
	mid := int64(6_425_000)
	for i := range depth {
		b.bids = append(b.bids, level{mid - 50 - int64(i)*50, b.size()})
		b.asks = append(b.asks, level{mid + 50 + int64(i)*50, b.size()})
	}
	return b
}

// size returns a random level size.
func (b *book) size() int64 {
	return 1_000_000 + b.r.Int64N(500_000_000)
}

// next changes one to three levels and returns the new snapshot.
func (b *book) next() []byte {
	b.seq++
	b.ts += 1 + b.r.Int64N(250)
	for range 1 + b.r.IntN(3) {
		side := b.bids
		if b.r.IntN(2) == 0 {
			side = b.asks
		}
		side[b.r.IntN(len(side))].size = b.size()
	}
	return b.snapshot()
}

// snapshot returns the book as JSON.
func (b *book) snapshot() []byte {
	out := []byte(`{"channel":"book","symbol":"BTC-USD","seq":`)
	out = strconv.AppendInt(out, int64(b.seq), 10)
	out = append(out, `,"ts":`...)
	out = strconv.AppendInt(out, b.ts, 10)
	out = append(out, `,"bids":`...)
	out = appendLevels(out, b.bids)
	out = append(out, `,"asks":`...)
	out = appendLevels(out, b.asks)
	return append(out, '}')
}

// appendLevels appends levels as a JSON array of [price, size] strings.
func appendLevels(out []byte, levels []level) []byte {
	out = append(out, '[')
	for i, l := range levels {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `["`...)
		out = appendFixed(out, l.price, 2)
		out = append(out, `","`...)
		out = appendFixed(out, l.size, 8)
		out = append(out, `"]`...)
	}
	return append(out, ']')
}

// appendFixed appends v / 10^decimals with exactly decimals digits after
// the point.
func appendFixed(out []byte, v int64, decimals int) []byte {
	s := strconv.FormatInt(v, 10)
	for len(s) <= decimals {
		s = "0" + s
	}
	out = append(out, s[:len(s)-decimals]...)
	out = append(out, '.')
	return append(out, s[len(s)-decimals:]...)
}

// sequence returns n consecutive snapshots of a book of depth levels.
func sequence(seed uint64, depth, n int) [][]byte {
	b := newBook(seed, depth)
	snaps := [][]byte{b.snapshot()}
	for len(snaps) < n {
		snaps = append(snaps, b.next())
	}
	return snaps
}
