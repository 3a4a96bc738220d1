//go:build linux

package clientload

import "runtime"

// Snapshot is a Holder's state at one moment: its connections and what
// the whole process uses (the baseline taken before Connect is the same
// figures with no connection).
type Snapshot struct {
	Kind           string  `json:"kind"`
	Conns          int     `json:"conns_requested"`
	Connected      int     `json:"connected"`      // dials that succeeded
	Failed         int     `json:"connect_failed"` // dials that failed or never started
	FirstError     string  `json:"first_error,omitempty"`
	ConnectSeconds float64 `json:"connect_seconds"` // Connect's duration
	Alive          int     `json:"alive"`           // connections up now
	Ended          int64   `json:"ended"`           // connections that ended before this snapshot
	Reconnects     int64   `json:"reconnects"`      // wsloop: connections opened again after one ended

	HeapInuse   uint64 `json:"heap_inuse_bytes"`
	HeapObjects uint64 `json:"heap_objects"`
	StackInuse  uint64 `json:"stack_inuse_bytes"`
	Sys         uint64 `json:"go_sys_bytes"`
	Goroutines  int    `json:"goroutines"`

	// TCP counters of the sampled connections still open: bytes the
	// peer acknowledged and bytes received since the connection opened.
	SampledOpen int    `json:"sampled_open"`
	SampledSent uint64 `json:"sampled_bytes_sent"`
	SampledRecv uint64 `json:"sampled_bytes_received"`
}

// Snapshot collects garbage and reads the figures. It costs a few
// milliseconds per thousand connections.
func (h *Holder) Snapshot() Snapshot {
	h.mu.Lock()
	conns := h.conns
	s := Snapshot{Kind: h.cfg.Kind, Conns: h.cfg.Conns, Connected: len(conns), Failed: h.failed, ConnectSeconds: h.secs}
	if h.firstErr != nil {
		s.FirstError = h.firstErr.Error()
	}
	h.mu.Unlock()
	for _, c := range conns {
		if c.alive() {
			s.Alive++
		}
	}
	s.Ended = h.ev.ends.Load()
	if h.cfg.Kind == "wsloop" {
		s.Reconnects = max(0, h.ev.opens.Load()-int64(len(conns)))
	}
	s.SampledOpen, s.SampledSent, s.SampledRecv = h.src.traffic()
	var ms runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	s.HeapInuse, s.HeapObjects, s.StackInuse, s.Sys = ms.HeapInuse, ms.HeapObjects, ms.StackInuse, ms.Sys
	s.Goroutines = runtime.NumGoroutine()
	return s
}
