//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// fanoutPeers are the peers a fanout run compares wsloop with.
var fanoutPeers = []string{"gws", "nbio", "gorilla"}

// sustained is the share of the offered deliveries a run must deliver in
// its window, with nothing lost, for its rate to count as sustained.
const sustained = 0.95

// fanoutSummary is what a fanout summary adds: the offered load, counts
// summed over every round (a loss in any round shows), and the ratios to
// the best peer of the same run.
type fanoutSummary struct {
	OfferedPerSec   float64            `json:"deliveries_offered_per_sec"`
	Publications    float64            `json:"publications"` // median over rounds
	Endpoints       int                `json:"publish_endpoints"`
	NATS            bool               `json:"nats"`
	Lost            int64              `json:"lost"`
	Gaps            int64              `json:"gaps"`
	Dups            int64              `json:"dups"`
	SeqChecked      int64              `json:"seq_checked"`
	SeqGaps         int64              `json:"seq_gaps"`
	SeqDups         int64              `json:"seq_dups"`
	PublishErrors   int64              `json:"publish_errors"`
	PublishSkipped  int64              `json:"publications_skipped"`
	BestPeer        string             `json:"best_peer,omitempty"`
	RatioToBestPeer map[string]float64 `json:"ratio_to_best_peer,omitempty"`
}

func fillFanoutSummary(sp spec, s *summary) {
	s.Subscribers, s.Topics = sp.conns, sp.topics
	f := &fanoutSummary{OfferedPerSec: sp.rate * float64(sp.conns)}
	var pubs []float64
	for _, r := range s.Raw {
		fr := r.Fanout
		if fr == nil {
			continue
		}
		f.Endpoints, f.NATS = fr.Endpoints, fr.NATS
		f.PublishErrors += fr.PublishErrors
		f.PublishSkipped += fr.PublishSkipped
		if r.Error != "" {
			continue
		}
		pubs = append(pubs, float64(fr.Publications))
		f.Lost += fr.Lost
		f.Gaps += fr.Gaps
		f.Dups += fr.Dups
		f.SeqChecked += fr.SeqChecked
		f.SeqGaps += fr.SeqGaps
		f.SeqDups += fr.SeqDups
	}
	f.Publications = median(pubs)
	s.Fanout = f
}

// bestPeer returns the peer with the most deliveries/s, or nil.
func bestPeer(sums []summary) *summary {
	var best *summary
	for i := range sums {
		s := &sums[i]
		if s.RoundsOK > 0 && slices.Contains(fanoutPeers, s.Server) && (best == nil || s.DeliveriesPerSec > best.DeliveriesPerSec) {
			best = s
		}
	}
	return best
}

// ratiosToBestPeer sets every summary's ratios to the best peer's figures.
func ratiosToBestPeer(sums []summary) {
	best := bestPeer(sums)
	if best == nil {
		return
	}
	for i := range sums {
		s := &sums[i]
		if s.RoundsOK == 0 || s.Fanout == nil {
			continue
		}
		s.Fanout.BestPeer = best.Server
		s.Fanout.RatioToBestPeer = map[string]float64{}
		for _, m := range []metric{mDeliv, mP50, mP99, mCPUPerM} {
			if b := *m.sum(best); b > 0 {
				s.Fanout.RatioToBestPeer[m.key] = *m.sum(s) / b
			}
		}
	}
}

// fanoutGoals checks the fan-out goals that one rate can tell:
// nothing lost, ≥ 2M deliveries/s to 100K subscribers (where that much is
// offered) and ≥ 2× the best peer's deliveries/s.
func fanoutGoals(sp spec, sums []summary) []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	for i := range sums {
		s := &sums[i]
		if s.RoundsOK == 0 || s.Fanout == nil {
			continue
		}
		f := s.Fanout
		clean := f.Lost == 0 && f.Gaps == 0 && f.Dups == 0 && f.SeqGaps == 0 && f.SeqDups == 0 && f.PublishErrors == 0
		out = append(out, fmt.Sprintf("%s: nothing lost, in order: lost %d, gaps %d, dups %d; server sequence checked on %d deliveries: gaps %d, dups %d; publish errors %d — %s (publications skipped, the publish endpoint too slow for the rate: %d)",
			s.Server, f.Lost, f.Gaps, f.Dups, f.SeqChecked, f.SeqGaps, f.SeqDups, f.PublishErrors, verdict(clean), f.PublishSkipped))
	}
	best := bestPeer(sums)
	for i := range sums {
		s := &sums[i]
		if s.RoundsOK == 0 || !strings.HasPrefix(s.Server, "wsloop") {
			continue
		}
		if sp.conns >= 100_000 && s.Server == "wsloop" && sp.rate*float64(sp.conns) >= 2e6 {
			out = append(out, fmt.Sprintf("wsloop: ≥ 2,000,000 deliveries/s to %d subscribers: %.0f — %s", sp.conns, s.DeliveriesPerSec, verdict(s.DeliveriesPerSec >= 2e6)))
		}
		if best != nil && best.DeliveriesPerSec > 0 {
			r := s.DeliveriesPerSec / best.DeliveriesPerSec
			out = append(out, fmt.Sprintf("%s: deliveries/s ≥ 2× the best peer's (%s, %.0f): %.2f× — %s", s.Server, best.Server, best.DeliveriesPerSec, r, verdict(r >= 2)))
		}
	}
	return out
}

// printSweep prints, for every fanout shape run at two or more rates, each
// server's deliveries/s and p99 per rate, its highest sustained rate (at
// least 95% of the offered deliveries in the window, nothing lost) and the
// p99 goal at half of it (the highest rate run at or below half).
func printSweep(w io.Writer, all []summary) {
	type shape struct{ size, conns, topics int }
	byShape := map[shape][]summary{}
	var order []shape
	for _, s := range all {
		if s.Scenario != "fanout" {
			continue
		}
		k := shape{s.MsgBytes, s.Conns, s.Topics}
		if _, ok := byShape[k]; !ok {
			order = append(order, k)
		}
		byShape[k] = append(byShape[k], s)
	}
	for _, k := range order {
		group := byShape[k]
		var rates []float64
		var servers []string
		for _, s := range group {
			if !slices.Contains(rates, s.Rate) {
				rates = append(rates, s.Rate)
			}
			if !slices.Contains(servers, s.Server) {
				servers = append(servers, s.Server)
			}
		}
		if len(rates) < 2 {
			continue
		}
		slices.Sort(rates)
		fmt.Fprintf(w, "\n## fanout sweep — %d subscribers × %d topic(s), %d B; sustained = ≥ %.0f%% of the offered deliveries in the window and nothing lost\n",
			k.conns, k.topics, k.size, sustained*100)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "server\trate (/s)\toffered (/s)\tdeliveries/s\tp50 (ms)\tp99 (ms)\tlost\tsustained\t")
		var goals []string
		for _, srv := range servers {
			var maxRate, maxDeliv float64
			anyOK := false
			byRate := map[float64]*summary{}
			for i := range group {
				s := &group[i]
				if s.Server != srv {
					continue
				}
				byRate[s.Rate] = s
				if s.RoundsOK == 0 {
					fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\tfailed\t\n", srv, strconv.FormatFloat(s.Rate, 'f', -1, 64))
					continue
				}
				anyOK = true
				offered := s.Rate * float64(s.Conns)
				ok := s.DeliveriesPerSec >= sustained*offered && s.Fanout != nil && s.Fanout.Lost == 0 && s.Fanout.PublishSkipped == 0 && s.FailedRounds == 0
				if ok {
					maxRate = max(maxRate, s.Rate)
				}
				maxDeliv = max(maxDeliv, s.DeliveriesPerSec)
				fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.1f\t%.1f\t%d\t%v\t\n", srv, strconv.FormatFloat(s.Rate, 'f', -1, 64), offered,
					s.DeliveriesPerSec, s.P50us/1000, s.P99us/1000, s.Fanout.Lost, ok)
			}
			if !strings.HasPrefix(srv, "wsloop") || !anyOK {
				continue
			}
			if maxRate == 0 {
				goals = append(goals, fmt.Sprintf("%s: no rate sustained (most deliveries/s: %.0f)", srv, maxDeliv))
				continue
			}
			half := 0.0
			for _, r := range rates {
				if r <= maxRate/2 && byRate[r] != nil && byRate[r].RoundsOK > 0 {
					half = r
				}
			}
			if half == 0 {
				goals = append(goals, fmt.Sprintf("%s: highest sustained rate %s/s (%.0f deliveries/s); no run at or below half of it", srv, strconv.FormatFloat(maxRate, 'f', -1, 64), maxRate*float64(k.conns)))
				continue
			}
			p99 := byRate[half].P99us / 1000
			v := "NOT met"
			if p99 <= 50 {
				v = "met"
			}
			goals = append(goals, fmt.Sprintf("%s: highest sustained rate %s/s (%.0f deliveries/s, most delivered %.0f/s); p99 ≤ 50 ms at half of it (%s/s): %.1f ms — %s",
				srv, strconv.FormatFloat(maxRate, 'f', -1, 64), maxRate*float64(k.conns), maxDeliv, strconv.FormatFloat(half, 'f', -1, 64), p99, v))
		}
		tw.Flush()
		for _, g := range goals {
			fmt.Fprintln(w, "  goal:", g)
		}
	}
}
