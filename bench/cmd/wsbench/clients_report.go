//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// clientsSummary is one client library in the clients scenario: medians
// over its successful rounds (a round succeeds when it ran to the end;
// failures are counted in it), ratios to wsloop's client, and every
// round's raw figures.
type clientsSummary struct {
	Scenario    string `json:"scenario"`
	Tag         string `json:"scenario_tag"`
	Kind        string `json:"client"`
	Conns       int    `json:"conns"`
	ServerProcs int    `json:"server_procs"`
	ClientProcs int    `json:"client_procs"`
	Rounds      int    `json:"rounds"`
	RoundsOK    int    `json:"rounds_ok"`

	HeartbeatSeconds        float64 `json:"heartbeat_seconds"`
	HeartbeatTimeoutSeconds float64 `json:"heartbeat_timeout_seconds"`

	ConnsOK            float64 `json:"conns_ok"`
	Alive              float64 `json:"alive_after_hold"`
	Failures           float64 `json:"failures"` // connects failed + ended during the hold + reconnects
	ConnectWallSeconds float64 `json:"connect_wall_seconds"`
	RSSBytes           float64 `json:"client_rss_bytes"`
	RSSPerConn         float64 `json:"client_rss_bytes_per_conn"`
	RSSMarginal        float64 `json:"client_rss_marginal_bytes_per_conn"`
	HeapPerConn        float64 `json:"heap_inuse_bytes_per_conn"`
	StackPerConn       float64 `json:"stack_inuse_bytes_per_conn"`
	GoroutinesPerConn  float64 `json:"goroutines_per_conn"`
	ClientCPUHold      float64 `json:"client_cpu_seconds_hold"`
	HoldBytesSent      float64 `json:"hold_bytes_sent_per_sampled_conn"`
	HoldBytesRecv      float64 `json:"hold_bytes_received_per_sampled_conn"`
	ServerRSSMarginal  float64 `json:"server_rss_marginal_bytes_per_conn"`

	// Ratio is this library's figure divided by wsloop's client's, per
	// JSON name above.
	Ratio    map[string]float64 `json:"ratio_to_wsloop,omitempty"`
	Settings settings           `json:"settings"`
	Raw      []clientsRound     `json:"raw"`
}

// clientsFigure is one column of the clients table.
type clientsFigure struct {
	key   string
	title string
	get   func(*clientsSummary) *float64
	show  func(float64) string
}

func bytesPer(v float64) string { return fmt.Sprintf("%.0f B", v) }
func secs(v float64) string     { return fmt.Sprintf("%.1f s", v) }

var clientsFigures = []clientsFigure{
	{"client_rss_bytes_per_conn", "RSS/conn", func(s *clientsSummary) *float64 { return &s.RSSPerConn }, bytesPer},
	{"client_rss_marginal_bytes_per_conn", "RSS/conn marginal", func(s *clientsSummary) *float64 { return &s.RSSMarginal }, bytesPer},
	{"heap_inuse_bytes_per_conn", "heap/conn", func(s *clientsSummary) *float64 { return &s.HeapPerConn }, bytesPer},
	{"stack_inuse_bytes_per_conn", "stacks/conn", func(s *clientsSummary) *float64 { return &s.StackPerConn }, bytesPer},
	{"goroutines_per_conn", "goroutines/conn", func(s *clientsSummary) *float64 { return &s.GoroutinesPerConn }, func(v float64) string { return fmt.Sprintf("%.2f", v) }},
	{"connect_wall_seconds", "connect", func(s *clientsSummary) *float64 { return &s.ConnectWallSeconds }, secs},
	{"client_cpu_seconds_hold", "CPU in hold", func(s *clientsSummary) *float64 { return &s.ClientCPUHold }, secs},
}

// summarizeClients turns rounds into one summary per kind, in -clients
// order.
func summarizeClients(sp spec, cfg *config, rs []clientsRound) []clientsSummary {
	env := machineFacts(cfg)
	// The server is always wsloop: server_order records the clients' order.
	env.Sysctls, env.HoldSeconds, env.ServerOrder = sp.sysctls, sp.hold.Seconds(), strings.Join(cfg.cl.kinds, ",")
	var out []clientsSummary
	for _, k := range cfg.cl.kinds {
		s := clientsSummary{Scenario: sp.name, Tag: sp.tag, Kind: k, Conns: sp.conns, ServerProcs: sp.serverProcs,
			ClientProcs: ceilDiv(sp.conns, cfg.perLoad), HeartbeatSeconds: cfg.cl.heartbeat.Seconds(),
			HeartbeatTimeoutSeconds: cfg.cl.heartbeatTimeout.Seconds(), Settings: env, Raw: []clientsRound{}}
		cols := map[string][]float64{}
		add := func(key string, v float64) { cols[key] = append(cols[key], v) }
		for _, r := range rs {
			if r.Kind != k {
				continue
			}
			s.Rounds++
			s.Raw = append(s.Raw, r)
			if r.Error != "" {
				continue
			}
			s.RoundsOK++
			add("conns_ok", float64(r.ConnsOK))
			add("alive", float64(r.Alive))
			add("failures", float64(r.ConnectFailed)+float64(r.Ended)+float64(r.Reconnects))
			add("connect_wall_seconds", r.ConnectWallSeconds)
			add("rss", float64(r.RSSBytes))
			add("client_rss_bytes_per_conn", r.RSSPerConn)
			add("client_rss_marginal_bytes_per_conn", r.RSSMarginal)
			add("heap_inuse_bytes_per_conn", r.HeapPerConn)
			add("stack_inuse_bytes_per_conn", r.StackPerConn)
			add("goroutines_per_conn", r.GoroutinesPerConn)
			add("client_cpu_seconds_hold", r.ClientCPUHold)
			add("sent", r.HoldBytesSentPerConn)
			add("recv", r.HoldBytesRecvPerConn)
			add("server", float64(r.ServerRSSBytes-r.ServerRSSBaseBytes)/float64(r.ConnsOK))
		}
		if s.RoundsOK > 0 {
			s.ConnsOK, s.Alive, s.Failures = median(cols["conns_ok"]), median(cols["alive"]), median(cols["failures"])
			s.RSSBytes, s.HoldBytesSent, s.HoldBytesRecv = median(cols["rss"]), median(cols["sent"]), median(cols["recv"])
			s.ServerRSSMarginal = median(cols["server"])
			for _, f := range clientsFigures {
				*f.get(&s) = median(cols[f.key])
			}
		}
		out = append(out, s)
	}
	var ref *clientsSummary
	for i := range out {
		if out[i].Kind == "wsloop" && out[i].RoundsOK > 0 {
			ref = &out[i]
		}
	}
	if ref != nil {
		for i := range out {
			if out[i].RoundsOK == 0 {
				continue
			}
			out[i].Ratio = map[string]float64{}
			for _, f := range clientsFigures {
				if base := *f.get(ref); base != 0 {
					out[i].Ratio[f.key] = *f.get(&out[i]) / base
				}
			}
		}
	}
	return out
}

// printClientsTable prints one row per client library, each figure with
// its ratio to wsloop's client.
func printClientsTable(w io.Writer, sp spec, cfg *config, sums []clientsSummary) {
	fmt.Fprintf(w, "\n%s: %d idle connections per client library over %d client and %d wsloop process(es), heartbeat %v/%v, hold %v, %d round(s) (medians; ratio to wsloop's client in parentheses)\n",
		sp.tag, sp.conns, ceilDiv(sp.conns, cfg.perLoad), sp.serverProcs, cfg.cl.heartbeat, cfg.cl.heartbeatTimeout, sp.hold, cfg.rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "client\theld after hold\tfailures\tRSS total"
	for _, f := range clientsFigures {
		head += "\t" + f.title
	}
	fmt.Fprintln(tw, head+"\thold bytes/conn out/in\t")
	for i := range sums {
		s := &sums[i]
		if s.RoundsOK == 0 {
			fmt.Fprintf(tw, "%s\tFAILED (%d rounds)\t\n", s.Kind, s.Rounds)
			continue
		}
		row := fmt.Sprintf("%s\t%.0f/%d\t%.0f\t%.1f MiB", s.Kind, s.Alive, s.Conns, s.Failures, s.RSSBytes/(1<<20))
		for _, f := range clientsFigures {
			row += "\t" + f.show(*f.get(s))
			if r, ok := s.Ratio[f.key]; ok && s.Kind != "wsloop" {
				row += fmt.Sprintf(" (%.2f×)", r)
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f/%.0f\t\n", row, s.HoldBytesSent, s.HoldBytesRecv)
	}
	_ = tw.Flush()
}

// clientsLine is one round in one log line.
func clientsLine(r clientsRound) string {
	if r.Error != "" {
		return "FAILED: " + r.Error
	}
	return fmt.Sprintf("%d/%d connected in %.1fs (%d failed), %d alive after %.0fs (%d ended, %d reconnects); client RSS %.1f MiB (base %.1f): %.0f B/conn, marginal %.0f; heap %.0f B/conn, stacks %.0f B/conn, %.2f goroutines/conn; hold CPU %.2fs; sampled %d conns: %.0f B out, %.0f B in",
		r.ConnsOK, r.ConnsRequested, r.ConnectWallSeconds, r.ConnectFailed, r.Alive, r.HoldSeconds, r.Ended, r.Reconnects,
		float64(r.RSSBytes)/(1<<20), float64(r.RSSBaseBytes)/(1<<20), r.RSSPerConn, r.RSSMarginal, r.HeapPerConn, r.StackPerConn, r.GoroutinesPerConn,
		r.ClientCPUHold, r.SampledConns, r.HoldBytesSentPerConn, r.HoldBytesRecvPerConn)
}
