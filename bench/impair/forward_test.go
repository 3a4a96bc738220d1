package impair

import (
	"encoding/binary"
	"testing"
	"time"
)

// testDirection is a direction without devices, driven by admit and due
// with a fake clock.
func testDirection(cfg Config) *direction {
	sh := new(shared)
	sh.cfg.Store(ptr(cfg.normalized()))
	return newDirection(nil, nil, sh, time.Now(), 1)
}

// admitN admits packets carrying 0..n-1, one every gap, from time 0.
func admitN(d *direction, n int, gap time.Duration) {
	for i := range n {
		buf := bufPool.Get().(*[bufSize]byte)
		binary.BigEndian.PutUint32(buf[:], uint32(i))
		d.admit(buf, 100, int64(i)*int64(gap))
	}
}

// drainAll releases every queued packet, returning their numbers in
// release order.
func drainAll(d *direction) []int {
	batch, _ := d.due(nil, 1<<62)
	out := make([]int, len(batch))
	for i, p := range batch {
		out[i] = int(binary.BigEndian.Uint32(p.bytes()))
		bufPool.Put(p.buf)
	}
	return out
}

func TestQueueOrder(t *testing.T) {
	var q packetQueue
	ats := []int64{50, 10, 30, 10, 40, 20, 10}
	for i, at := range ats {
		q.push(packet{at: at, seq: uint64(i)})
	}
	var prev packet
	for i := range ats {
		p := q.pop()
		if i > 0 && (p.at < prev.at || p.at == prev.at && p.seq < prev.seq) {
			t.Fatalf("popped (%d,%d) after (%d,%d)", p.at, p.seq, prev.at, prev.seq)
		}
		prev = p
	}
	if len(q) != 0 {
		t.Fatalf("%d left", len(q))
	}
}

// TestJitterKeepsOrder: jitter larger than the gap between packets must
// not reorder them.
func TestJitterKeepsOrder(t *testing.T) {
	d := testDirection(Config{Delay: 10 * time.Millisecond, Jitter: 10 * time.Millisecond})
	admitN(d, 1000, 100*time.Microsecond)
	got := drainAll(d)
	if len(got) != 1000 {
		t.Fatalf("%d packets released, want 1000", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("packet %d released in place %d", v, i)
		}
	}
	if st := d.st.snapshot(); st.Delayed != 1000 || st.Reordered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReorderOvertakes: with Reorder, some packets come out after later
// ones, and the Reordered count matches the packets that were overtaken.
func TestReorderOvertakes(t *testing.T) {
	d := testDirection(Config{Reorder: 0.2})
	admitN(d, 1000, 100*time.Microsecond)
	got := drainAll(d)
	if len(got) != 1000 {
		t.Fatalf("%d packets released, want 1000", len(got))
	}
	late := 0
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			late++
		}
	}
	st := d.st.snapshot()
	if late == 0 || st.Reordered < 100 || st.Reordered > 300 {
		t.Fatalf("%d out-of-order releases, stats %+v", late, st)
	}
}

func TestLossAndDuplicate(t *testing.T) {
	d := testDirection(Config{Loss: 0.1, Duplicate: 0.1, QueueLimit: 20000})
	admitN(d, 10000, time.Microsecond)
	got := drainAll(d)
	st := d.st.snapshot()
	if st.Lost < 800 || st.Lost > 1200 || st.Duplicated < 700 || st.Duplicated > 1100 {
		t.Fatalf("stats %+v", st)
	}
	if want := 10000 - int(st.Lost) + int(st.Duplicated); len(got) != want {
		t.Fatalf("%d packets queued, want %d", len(got), want)
	}
}

// TestRate: 100 packets of 100 bytes at 10000 B/s leave over 0.99 s.
func TestRate(t *testing.T) {
	d := testDirection(Config{Rate: 10000})
	admitN(d, 100, 0)
	d.mu.Lock()
	var last int64
	for len(d.q) > 0 {
		p := d.q.pop()
		last = p.at
		bufPool.Put(p.buf)
	}
	d.mu.Unlock()
	if want := int64(99 * 10 * time.Millisecond); last != want {
		t.Fatalf("last release at %v, want %v", time.Duration(last), time.Duration(want))
	}
}

func TestQueueLimit(t *testing.T) {
	d := testDirection(Config{Delay: time.Second, QueueLimit: 10})
	admitN(d, 25, 0)
	if got := len(drainAll(d)); got != 10 {
		t.Fatalf("%d queued, want 10", got)
	}
	if st := d.st.snapshot(); st.Overflow != 15 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBlackholeQueued: packets queued before Blackhole(true) are dropped
// at release, and new ones on arrival.
func TestBlackholeQueued(t *testing.T) {
	d := testDirection(Config{Delay: time.Second})
	admitN(d, 5, 0)
	d.sh.blackhole.Store(true)
	admitN(d, 5, 0)
	batch, _ := d.due(nil, 1<<62)
	if !d.release(batch) {
		t.Fatal("release failed")
	}
	if st := d.st.snapshot(); st.Blackholed != 10 || st.Forwarded != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNormalized(t *testing.T) {
	c := Config{Loss: 2, Reorder: -1, Duplicate: 0.5, Delay: -time.Second, Rate: -5}.normalized()
	want := Config{Loss: 1, Duplicate: 0.5, QueueLimit: DefaultQueueLimit}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

// nullWriter is a device that accepts every packet.
type nullWriter struct{ n int }

func (w *nullWriter) Write(p []byte) (int, error) { w.n++; return len(p), nil }

// BenchmarkForward measures the forwarder's per-packet path without
// devices: admit (verdict, queueing) and release under a typical
// impairment.
func BenchmarkForward(b *testing.B) {
	d := testDirection(Config{Loss: 0.01, Delay: time.Millisecond, Jitter: 500 * time.Microsecond,
		Reorder: 0.01, Duplicate: 0.01})
	w := new(nullWriter)
	d.dst = w
	b.ReportAllocs()
	b.SetBytes(1400)
	var batch []packet
	now := int64(0)
	for b.Loop() {
		now += int64(10 * time.Microsecond)
		d.admit(bufPool.Get().(*[bufSize]byte), 1400, now)
		batch, _ = d.due(batch[:0], now)
		d.release(batch)
	}
	b.ReportMetric(float64(w.n)/float64(b.N), "fwd/op")
}
