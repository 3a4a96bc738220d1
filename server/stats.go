package server

import "github.com/wsloop/wsloop/poller"

// Statistics types, for monitoring (see the admin package for Prometheus).
type (
	// Stats is a snapshot of the server's counters and gauges.
	Stats = poller.Stats
	// Histogram is a cumulative histogram snapshot.
	Histogram = poller.Histogram
	// UpgradeResult classifies how a handshake ended.
	UpgradeResult = poller.UpgradeResult
)

// NumUpgradeResults is the number of UpgradeResult values (the length of
// Stats.Upgrades).
const NumUpgradeResults = poller.NumUpgradeResults

// Stats returns a snapshot of the server's counters. Safe from any
// goroutine, cheap enough to call on every scrape.
func (s *Server) Stats() Stats { return s.eng.Stats() }

// Draining reports whether Shutdown has begun. Safe from any goroutine.
func (s *Server) Draining() bool { return s.eng.Draining() }
