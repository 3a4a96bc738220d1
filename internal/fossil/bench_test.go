package fossil

import (
	"fmt"
	"testing"
)

// benchFeeds are order-book feeds of about 200 bytes (2 levels a side)
// and about 2 KiB (37 levels a side) a snapshot.
var benchFeeds = []struct {
	name  string
	depth int
}{
	{"200B", 2},
	{"2KiB", 37},
}

// benchSnapshots is how many consecutive snapshots a benchmark cycles
// through.
const benchSnapshots = 64

// BenchmarkDelta measures the server's per-publication cost: the delta
// from the previous snapshot into a reused buffer (AppendDelta) and into a
// new slice (Delta).
func BenchmarkDelta(b *testing.B) {
	for _, f := range benchFeeds {
		snaps := sequence(1, f.depth, benchSnapshots+1)
		b.Run(fmt.Sprintf("%s/AppendDelta", f.name), func(b *testing.B) {
			buf := make([]byte, 0, MaxDeltaLen(4096))
			reportDeltas(b, snaps, func(src, dst []byte) []byte {
				buf = AppendDelta(buf[:0], src, dst)
				return buf
			})
		})
		b.Run(fmt.Sprintf("%s/Delta", f.name), func(b *testing.B) {
			reportDeltas(b, snaps, Delta)
		})
	}
}

// reportDeltas runs encode over consecutive pairs of snaps and reports the
// average snapshot and delta sizes.
func reportDeltas(b *testing.B, snaps [][]byte, encode func(src, dst []byte) []byte) {
	b.ReportAllocs()
	var in, out int
	i := 0
	for b.Loop() {
		k := i%benchSnapshots + 1
		d := encode(snaps[k-1], snaps[k])
		in += len(snaps[k])
		out += len(d)
		i++
	}
	b.SetBytes(int64(in / i))
	b.ReportMetric(float64(out)/float64(i), "delta-B")
}

// BenchmarkApply measures a Go client's cost of applying one delta.
func BenchmarkApply(b *testing.B) {
	for _, f := range benchFeeds {
		snaps := sequence(1, f.depth, benchSnapshots+1)
		deltas := make([][]byte, benchSnapshots)
		for k := range deltas {
			deltas[k] = Delta(snaps[k], snaps[k+1])
		}
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := i % benchSnapshots
				if _, err := Apply(snaps[k], deltas[k]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
