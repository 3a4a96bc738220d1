package soak

import (
	"io"
	"time"
)

// Phase names, as given to Config.Phases and wssoak -phases.
const (
	PhaseKill     = "kill"     // kill -9 of a worker process
	PhaseNATS     = "nats"     // NATS server restart
	PhaseSlow     = "slow"     // a client that stops reading
	PhaseNetem    = "netem"    // loss, delay, reordering on a netns link
	PhaseHalfOpen = "halfopen" // the netns link blackholed: half-open connections
)

// AllPhases in the order they run.
var AllPhases = []string{PhaseKill, PhaseNATS, PhaseSlow, PhaseNetem, PhaseHalfOpen}

// Config is a soak run. Zero durations and counts are not defaulted: start
// from Full or Short and change what you need.
type Config struct {
	// Dir holds the binaries, logs and the NATS store (a temp dir when empty).
	Dir string
	// Out receives samples.csv, result.json and the plots ("" : none).
	Out string
	// Report is the SOAK.md path ("": none). Its plot links are relative
	// to it.
	Report string
	// CommandLine is recorded in the report.
	CommandLine string
	// Log receives progress lines (nil: discarded).
	Log io.Writer

	// Baseline is the subscribers-only stretch before churn.
	Baseline time.Duration
	// Steady is the fault-free churn at the end of the churn, over which
	// slopes are measured.
	Steady time.Duration
	// Settle bounds the wait, after churn, for descriptors and goroutines
	// to return to the baseline, and for subscribers to catch up.
	Settle time.Duration
	// Sample is the sampling interval.
	Sample time.Duration
	// Short marks the CI version: slopes over a short steady stretch are
	// reported but do not fail the run.
	Short bool

	// Server.
	Procs       int
	FeedRate    float64
	FeedSymbols int
	History     int
	// HistoryTTL is short so that NATS's streams (kept for twice the
	// window) reach their limits before the steady churn: their growth
	// until then is storage filling up, not a leak.
	HistoryTTL   time.Duration
	PingInterval time.Duration
	PongTimeout  time.Duration
	MaxOutbound  int

	// Subscribers: client/ clients; each subscribes to one symbol topic,
	// every AllEvery-th to md.all too.
	Subscribers int
	AllEvery    int
	Heartbeat   time.Duration // client heartbeat interval (timeout the same)

	// Churn: short connections per second (target), spread over
	// Churners goroutines; every SubscribeEvery-th subscribes and reads a
	// publication before closing.
	ChurnRate      float64
	Churners       int
	SubscribeEvery int

	// Phases to run (names above); faults are skipped when absent.
	Phases []string
	// Fault windows: how long each fault is held or observed.
	KillWatch   time.Duration // after the kill, for reconnections
	NATSOutage  time.Duration // NATS down
	NATSWatch   time.Duration // after NATS is back
	SlowWatch   time.Duration // bound on the slow-consumer phase
	NetemHold   time.Duration // impaired link
	NetemSubs   int           // subscribers inside the netns
	BlackHold   time.Duration // blackholed link, after both sides noticed
	FaultGap    time.Duration // pause between faults
	Impairment  Impairment    // netem phase's link settings
	NewLink     LinkFactory   // nil: the netns phases are skipped
	LinkMissing string        // why NewLink is nil, for the report
}

// Full is the 10-minute `make soak` configuration.
func Full() Config {
	return Config{
		Baseline: 20 * time.Second, Steady: 5 * time.Minute, Settle: 60 * time.Second, Sample: 2 * time.Second,
		Procs: 2, FeedRate: 100, FeedSymbols: 20, History: 10000, HistoryTTL: time.Minute,
		PingInterval: 5 * time.Second, PongTimeout: 5 * time.Second, MaxOutbound: 1 << 20,
		Subscribers: 300, AllEvery: 4, Heartbeat: 5 * time.Second,
		ChurnRate: 2000, Churners: 48, SubscribeEvery: 4,
		Phases:    AllPhases,
		KillWatch: 20 * time.Second, NATSOutage: 5 * time.Second, NATSWatch: 20 * time.Second,
		SlowWatch: 60 * time.Second, NetemHold: 30 * time.Second, NetemSubs: 20,
		BlackHold: 5 * time.Second, FaultGap: 5 * time.Second,
		Impairment: Impairment{Loss: 0.02, Reorder: 0.05, Duplicate: 0.01, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond},
	}
}

// Short is the CI version of Full: about two minutes, smaller counts, the
// same checks (slopes informational).
func Short() Config {
	c := Full()
	c.Baseline, c.Steady, c.Settle, c.Sample = 5*time.Second, 30*time.Second, 45*time.Second, time.Second
	c.Short = true
	c.Subscribers, c.ChurnRate, c.Churners = 60, 500, 12
	c.KillWatch, c.NATSOutage, c.NATSWatch = 10*time.Second, 2*time.Second, 10*time.Second
	c.SlowWatch, c.NetemHold, c.NetemSubs, c.BlackHold, c.FaultGap = 30*time.Second, 10*time.Second, 8, 2*time.Second, 2*time.Second
	return c
}

func (c *Config) has(phase string) bool {
	for _, p := range c.Phases {
		if p == phase {
			return true
		}
	}
	return false
}

// FixedTime estimates how long a run of c takes besides its steady churn
// (set-up, baseline, the selected faults, settling), so that a caller can
// size Steady to a target total.
func FixedTime(c Config) time.Duration {
	d := 15*time.Second + c.Baseline + c.FaultGap
	if c.has(PhaseKill) {
		d += c.FaultGap + c.KillWatch/2 + 5*time.Second
	}
	if c.has(PhaseNATS) {
		d += c.FaultGap + c.NATSOutage + c.NATSWatch + 5*time.Second
	}
	if c.has(PhaseSlow) {
		d += c.FaultGap + 10*time.Second
	}
	if c.NewLink != nil && c.has(PhaseNetem) {
		d += c.FaultGap + c.NetemHold + 7*time.Second
	}
	if c.NewLink != nil && c.has(PhaseHalfOpen) {
		d += c.FaultGap + c.PingInterval + c.PongTimeout + c.BlackHold + 5*time.Second
	}
	return d
}
