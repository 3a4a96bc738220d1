package pubsub

import (
	"testing"
	"time"
)

func TestHistorySince(t *testing.T) {
	t0 := time.Unix(1000, 0)
	h := newHistory(5, time.Minute)
	for s := uint64(1); s <= 8; s++ {
		h.add(Message{Position: Position{Seq: s}, Time: t0.Add(time.Duration(s) * time.Second)})
	}
	now := t0.Add(10 * time.Second)
	cases := []struct {
		since  uint64
		ok     bool
		first  uint64
		length int
	}{
		{8, true, 0, 0},  // up to date
		{7, true, 8, 1},  // one behind
		{3, true, 4, 5},  // exactly the oldest kept
		{2, false, 0, 0}, // 3 was dropped
		{0, false, 0, 0}, // everything since the start: dropped
		{9, false, 0, 0}, // from the future
	}
	for _, tc := range cases {
		got, ok := h.since(tc.since, 8, now)
		if ok != tc.ok || len(got) != tc.length || (tc.length > 0 && got[0].Seq != tc.first) {
			t.Errorf("since(%d) = %d messages (first %v), ok %v; want %d from %d, ok %v",
				tc.since, len(got), got, ok, tc.length, tc.first, tc.ok)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq != got[i-1].Seq+1 {
				t.Errorf("since(%d): not consecutive: %v", tc.since, got)
			}
		}
	}
	// Age limit: at t0+64s only messages newer than t0+4s remain (5..8).
	if _, ok := h.since(3, 8, t0.Add(64*time.Second+time.Millisecond)); ok {
		t.Errorf("since(3) after expiry of 4: ok, want recovery failed")
	}
	if got, ok := h.since(5, 8, t0.Add(64*time.Second+time.Millisecond)); !ok || len(got) != 3 {
		t.Errorf("since(5) after expiry: %d, %v; want 3 messages", len(got), ok)
	}
}

func TestHistoryDisabled(t *testing.T) {
	h := newHistory(0, 0)
	h.add(Message{Position: Position{Seq: 1}})
	if _, ok := h.since(0, 1, time.Now()); ok {
		t.Error("no history: recovering a missed message should fail")
	}
	if _, ok := h.since(1, 1, time.Now()); !ok {
		t.Error("no history: an up-to-date client needs nothing and should succeed")
	}
}

// backfill replaces the ring only with messages reaching back further,
// keeping the size limit.
func TestHistoryBackfill(t *testing.T) {
	t0 := time.Unix(1000, 0)
	msgs := func(from, to uint64) []Message {
		var out []Message
		for s := from; s <= to; s++ {
			out = append(out, Message{Position: Position{Seq: s}, Time: t0})
		}
		return out
	}
	cases := []struct {
		name          string
		held, fill    [2]uint64 // seq ranges; {0,0}: none
		oldest, count uint64
	}{
		{"empty ring", [2]uint64{}, [2]uint64{3, 7}, 3, 5},
		{"reaches further back", [2]uint64{6, 7}, [2]uint64{3, 7}, 3, 5},
		{"not further back", [2]uint64{3, 7}, [2]uint64{5, 7}, 3, 5},
		{"same start", [2]uint64{3, 7}, [2]uint64{3, 7}, 3, 5},
		{"cut to the size", [2]uint64{9, 10}, [2]uint64{1, 10}, 5, 6},
		{"nothing to fill", [2]uint64{6, 7}, [2]uint64{}, 6, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(6, time.Minute)
			if tc.held[0] > 0 {
				for _, m := range msgs(tc.held[0], tc.held[1]) {
					h.add(m)
				}
			}
			var fill []Message
			if tc.fill[0] > 0 {
				fill = msgs(tc.fill[0], tc.fill[1])
			}
			h.backfill(fill)
			last := max(tc.held[1], tc.fill[1])
			got, ok := h.since(tc.oldest-1, last, t0)
			if !ok || uint64(len(got)) != tc.count || got[0].Seq != tc.oldest {
				t.Fatalf("since(%d) = %v, %v; want %d messages from %d", tc.oldest-1, got, ok, tc.count, tc.oldest)
			}
			if _, ok := h.since(tc.oldest-2, last, t0); ok && tc.oldest > 1 {
				t.Errorf("since(%d) ok: the ring reaches back further than %d", tc.oldest-2, tc.oldest)
			}
		})
	}
}

// The ring grows only when full: messages kept by the age limit, not max,
// decide its size. Every step is checked against a plain slice.
func TestHistoryRingSize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name       string
		max        int
		ttl, every time.Duration
		adds       int
		wantRing   int // at most
	}{
		{"age limit keeps 100 of max 10000", 10000, time.Second, 10 * time.Millisecond, 20000, 256},
		{"max keeps 50", 50, time.Hour, time.Millisecond, 1000, 50},
		{"bursts and pauses", 1000, time.Second, 0, 5000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(tc.max, tc.ttl)
			var model []Message
			now := t0
			for i := 1; i <= tc.adds; i++ {
				step := tc.every
				if step == 0 { // 37 messages at once, then a pause of 0.6 s
					if i%37 == 0 {
						step = 600 * time.Millisecond
					}
				}
				now = now.Add(step)
				m := Message{Position: Position{Seq: uint64(i)}, Time: now}
				h.add(m)
				model = append(model, m)
				for len(model) > tc.max || now.Sub(model[0].Time) > tc.ttl {
					model = model[1:]
				}
				got, ok := h.since(model[0].Seq-1, uint64(i), now)
				if !ok || len(got) != len(model) || got[0].Seq != model[0].Seq || got[len(got)-1].Seq != uint64(i) {
					t.Fatalf("after %d: since(%d) = %d messages, ok %v; want %d from %d", i, model[0].Seq-1, len(got), ok, len(model), model[0].Seq)
				}
				for j := 1; j < len(got); j++ {
					if got[j].Seq != got[j-1].Seq+1 {
						t.Fatalf("after %d: not consecutive at %d: %d then %d", i, j, got[j-1].Seq, got[j].Seq)
					}
				}
			}
			if len(h.ring) > tc.wantRing {
				t.Errorf("ring of %d slots for at most %d messages kept", len(h.ring), tc.wantRing)
			}
		})
	}
}
