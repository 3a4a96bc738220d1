package feed

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wsloop/wsloop/internal/fossil"
)

// TestDeltaBytes: every update of the feed, as a Fossil delta against the
// previous update of its symbol, applies back to the update itself; the
// bytes with and without deltas are logged (BENCHMARKS.md).
func TestDeltaBytes(t *testing.T) {
	const updates = 20000
	m := newMarket(Symbols(50), rand.New(rand.NewPCG(7, 8)))
	prev := make(map[string][]byte)
	var full, deltas, firsts int
	now := time.UnixMilli(1_767_225_600_000)
	for i := range updates {
		q := m.next()
		b := q.appendJSON(nil, now.Add(time.Duration(i)*time.Millisecond))
		full += len(b)
		p, ok := prev[q.sym]
		if !ok {
			firsts += len(b)
		} else {
			d := fossil.Delta(p, b)
			got, err := fossil.Apply(p, d)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("update %d: %q from %q: %q %v", i, d, p, got, err)
			}
			deltas += len(d)
		}
		prev[q.sym] = b
	}
	with := firsts + deltas
	t.Logf("%d feed updates: %d bytes of data in full, %d with deltas (%.1f%%; first update of each symbol in full)", updates, full, with, 100*float64(with)/float64(full))
	if with >= full {
		t.Errorf("deltas saved nothing: %d >= %d", with, full)
	}
}
