package poller

import (
	"fmt"
	"slices"
	"testing"
)

// TestBacklogConflation: a backlog keeps one frame per key, in the order
// of their latest arrival (so sequence order across keys holds), releases
// the frames it replaces, and compacts its holes.
func TestBacklogConflation(t *testing.T) {
	l := &loop{eng: &Engine{}}
	c := new(Conn)
	owner := NewFanout()
	var all []*Frame
	push := func(key string, seq int) {
		fr := newFrame(Text, fmt.Appendf(nil, "%s:%d", key, seq), key, nil, false)
		fr.owner = owner
		all = append(all, fr)
		l.conflate(c, fr)
		fr.release() // the publisher's reference
	}
	tests := []struct {
		keys []string
		want []string
	}{
		{[]string{"A", "B", "C"}, []string{"A:0", "B:1", "C:2"}},
		{[]string{"A", "B", "A", "C", "A"}, []string{"B:1", "C:3", "A:4"}},
		{[]string{"A", "A", "A", "A", "A", "A", "B"}, []string{"A:5", "B:6"}},
		{[]string{"C", "B", "A", "B", "C", "B", "A", "C"}, []string{"B:5", "A:6", "C:7"}},
	}
	for _, tc := range tests {
		all = nil
		for i, k := range tc.keys {
			push(k, i)
		}
		b := l.backlogs[c]
		b.compact()
		var got []string
		for _, fr := range b.frames {
			got = append(got, string(fr.plain.B[2:]))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: backlog %v, want %v", tc.keys, got, tc.want)
		}
		if n := l.stats.conflated.Load(); n == 0 && len(tc.keys) != len(tc.want) {
			t.Errorf("%v: nothing counted as conflated", tc.keys)
		}
		l.dropBacklog(c)
		for i, fr := range all {
			if fr.refs.Load() != 0 || fr.plain != nil {
				t.Errorf("%v: frame %d still referenced (%d)", tc.keys, i, fr.refs.Load())
			}
		}
	}
}
