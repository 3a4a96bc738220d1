//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// settings records how the figures were obtained, in every JSON object.
type settings struct {
	NumCPU       int     `json:"nproc"`
	Kernel       string  `json:"kernel"`
	GoVersion    string  `json:"go_version"`
	CPUModel     string  `json:"cpu_model,omitempty"`
	MemTotal     int64   `json:"mem_total_bytes"`
	Pinned       bool    `json:"pinned"`
	ServerCPU    string  `json:"server_cpu"`
	LoadCPU      string  `json:"load_cpu"`
	GOGC         string  `json:"gogc"`
	GOMEMLIMIT   string  `json:"gomemlimit"`
	HoldSeconds  float64 `json:"hold_seconds,omitempty"`
	WarmupSecs   float64 `json:"warmup_seconds,omitempty"`
	DurationSecs float64 `json:"duration_seconds,omitempty"`
	Inflight     int     `json:"inflight,omitempty"`
	Sysctls      bool    `json:"sysctls_set"`
	ServerOrder  string  `json:"server_order"`
	Date         string  `json:"date"`
}

func machineFacts(cfg *config) settings {
	s := settings{NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), Pinned: cfg.pin,
		ServerCPU: "any", LoadCPU: "any", ServerOrder: strings.Join(cfg.servers, ","), Date: time.Now().UTC().Format(time.RFC3339)}
	if cfg.pin {
		s.ServerCPU, s.LoadCPU = "0", "1"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		s.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				s.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				s.MemTotal, _ = parseKB(v)
			}
		}
	}
	s.GOGC = knob(cfg.gogc, "GOGC", "100 (Go default)")
	s.GOMEMLIMIT = knob(cfg.memLimit, "GOMEMLIMIT", "off (Go default)")
	return s
}

func knob(flagVal, env, def string) string {
	if flagVal != "" {
		return flagVal
	}
	if v := os.Getenv(env); v != "" {
		return v + " (inherited)"
	}
	return def
}

// summary is one server in one scenario: medians over its successful rounds
// (errors are summed), ratios to wsloop's medians and to floor's (when
// floor ran), and every round's raw figures.
type summary struct {
	Scenario    string  `json:"scenario"`
	Tag         string  `json:"scenario_tag"`
	Server      string  `json:"server"`
	Conns       int     `json:"conns"`
	MsgBytes    int     `json:"msg_bytes"`
	Rate        float64 `json:"rate_offered"`
	ServerProcs int     `json:"server_procs"`
	LoadProcs   int     `json:"load_procs"`
	Rounds      int     `json:"rounds"`
	RoundsOK    int     `json:"rounds_ok"`

	ConnsOK        float64 `json:"conns_ok"`
	ConnectSeconds float64 `json:"connect_seconds"`
	MsgsPerSec     float64 `json:"msgs_per_sec"`
	P50us          float64 `json:"p50_us"`
	P99us          float64 `json:"p99_us"`
	P999us         float64 `json:"p999_us"`
	ServerCPU      float64 `json:"server_cpu_seconds"`
	LoadCPU        float64 `json:"load_cpu_seconds"`
	WindowSeconds  float64 `json:"window_seconds"`
	CPUPerMillion  float64 `json:"server_cpu_seconds_per_million_msgs"`
	CPUPerMsgUs    float64 `json:"server_cpu_us_per_msg"`
	MsgsPerCPUSec  float64 `json:"msgs_per_server_cpu_second"`
	RSSBaseBytes   float64 `json:"rss_base_bytes"`
	RSSBytes       float64 `json:"rss_bytes"`
	RSSPeakBytes   float64 `json:"rss_peak_bytes"`
	RSSMarginal    float64 `json:"rss_marginal_bytes_per_conn"`
	MemAvailMin    float64 `json:"mem_available_min_bytes"`
	Errors         int64   `json:"errors"`
	FailedRounds   int     `json:"failed_rounds"`

	// fanout (see fanout.go): msgs_per_sec is deliveries_per_sec.
	Subscribers      int            `json:"subscribers,omitempty"`
	Topics           int            `json:"topics,omitempty"`
	DeliveriesPerSec float64        `json:"deliveries_per_sec,omitempty"`
	Fanout           *fanoutSummary `json:"fanout,omitempty"`
	lostMedian       float64

	Ratio map[string]float64 `json:"ratio_to_wsloop,omitempty"`
	// RatioFloor is every figure divided by floor's (bench/peers/floor,
	// the least work an echo can take), when floor ran: for
	// server_cpu_us_per_msg, the distance from the floor.
	RatioFloor map[string]float64 `json:"ratio_to_floor,omitempty"`
	Settings   settings           `json:"settings"`
	Raw        []roundResult      `json:"raw"`
}

// metric is one figure of a scenario: how to read it from a round and from
// a summary, and how to show it.
type metric struct {
	key    string // JSON name
	title  string
	unit   string
	scale  float64 // shown value = value / scale
	digits int
	get    func(*roundResult) float64
	sum    func(*summary) *float64
	better string // "higher" or "lower", for the charts' captions
}

var (
	mConnsOK = metric{"conns_ok", "connections", "", 1, 0,
		func(r *roundResult) float64 { return float64(r.ConnsOK) }, func(s *summary) *float64 { return &s.ConnsOK }, "higher"}
	mConnect = metric{"connect_seconds", "connect", "s", 1, 2,
		func(r *roundResult) float64 { return r.ConnectSeconds }, func(s *summary) *float64 { return &s.ConnectSeconds }, "lower"}
	mRSSBase = metric{"rss_base_bytes", "RSS base", "MiB", 1 << 20, 1,
		func(r *roundResult) float64 { return float64(r.RSSBaseBytes) }, func(s *summary) *float64 { return &s.RSSBaseBytes }, "lower"}
	mRSS = metric{"rss_bytes", "RSS", "MiB", 1 << 20, 1,
		func(r *roundResult) float64 { return float64(r.RSSBytes) }, func(s *summary) *float64 { return &s.RSSBytes }, "lower"}
	mRSSPeak = metric{"rss_peak_bytes", "RSS peak", "MiB", 1 << 20, 1,
		func(r *roundResult) float64 { return float64(r.RSSPeakBytes) }, func(s *summary) *float64 { return &s.RSSPeakBytes }, "lower"}
	mMarginal = metric{"rss_marginal_bytes_per_conn", "marginal RSS", "B/conn", 1, 0,
		func(r *roundResult) float64 { return r.RSSMarginal }, func(s *summary) *float64 { return &s.RSSMarginal }, "lower"}
	mCPU = metric{"server_cpu_seconds", "server CPU", "s", 1, 2,
		func(r *roundResult) float64 { return r.ServerCPUSeconds }, func(s *summary) *float64 { return &s.ServerCPU }, "lower"}
	mMsgs = metric{"msgs_per_sec", "msgs/s", "", 1, 0,
		func(r *roundResult) float64 { return r.MsgsPerSec }, func(s *summary) *float64 { return &s.MsgsPerSec }, "higher"}
	mP50 = metric{"p50_us", "p50", "µs", 1, 0,
		func(r *roundResult) float64 { return r.P50us }, func(s *summary) *float64 { return &s.P50us }, "lower"}
	mP99 = metric{"p99_us", "p99", "µs", 1, 0,
		func(r *roundResult) float64 { return r.P99us }, func(s *summary) *float64 { return &s.P99us }, "lower"}
	mP999 = metric{"p999_us", "p99.9", "µs", 1, 0,
		func(r *roundResult) float64 { return r.P999us }, func(s *summary) *float64 { return &s.P999us }, "lower"}
	mCPUPerM = metric{"server_cpu_seconds_per_million_msgs", "CPU per M msgs", "s", 1, 2,
		func(r *roundResult) float64 { return r.CPUPerMillion }, func(s *summary) *float64 { return &s.CPUPerMillion }, "lower"}
	mCPUPerMsg = metric{"server_cpu_us_per_msg", "CPU/msg", "µs", 1, 2,
		func(r *roundResult) float64 { return r.CPUPerMsgUs }, func(s *summary) *float64 { return &s.CPUPerMsgUs }, "lower"}
	mMsgsPerCPU = metric{"msgs_per_server_cpu_second", "msgs per CPU-s", "", 1, 0,
		func(r *roundResult) float64 { return r.MsgsPerCPUSec }, func(s *summary) *float64 { return &s.MsgsPerCPUSec }, "higher"}
	mLoadCPU = metric{"load_cpu_seconds", "load gen CPU", "s", 1, 2,
		func(r *roundResult) float64 { return r.LoadCPUSeconds }, func(s *summary) *float64 { return &s.LoadCPU }, "lower"}
	mWindow = metric{"window_seconds", "window", "s", 1, 2,
		func(r *roundResult) float64 { return r.WindowSeconds }, func(s *summary) *float64 { return &s.WindowSeconds }, "lower"}
	mMemAvail = metric{"mem_available_min_bytes", "MemAvailable min", "GiB", 1 << 30, 1,
		func(r *roundResult) float64 { return float64(r.MemAvailableMin) }, func(s *summary) *float64 { return &s.MemAvailMin }, "higher"}
	mDeliv = metric{"deliveries_per_sec", "deliveries/s", "", 1, 0,
		func(r *roundResult) float64 { return r.DeliveriesPerSec }, func(s *summary) *float64 { return &s.DeliveriesPerSec }, "higher"}
	mLost = metric{"lost", "lost", "", 1, 0,
		func(r *roundResult) float64 { return r.LostMetric }, func(s *summary) *float64 { return &s.lostMedian }, "lower"}
)

// metricsFor lists the figures of a scenario in table order; the second
// list is what gets a chart.
func metricsFor(scenario string) (table, charts []metric) {
	switch scenario {
	case "echo":
		return []metric{mMsgs, mP50, mP99, mP999, mCPU, mCPUPerMsg, mMsgsPerCPU, mRSS, mConnect, mLoadCPU},
			[]metric{mMsgs, mP99, mCPUPerMsg, mMsgsPerCPU, mRSS}
	case "million":
		return []metric{mConnsOK, mConnect, mRSSBase, mRSS, mMarginal, mCPU, mMemAvail},
			[]metric{mConnect, mRSS, mMarginal}
	case "fanout":
		return []metric{mDeliv, mP50, mP99, mP999, mLost, mCPU, mCPUPerM, mRSS, mConnect, mLoadCPU},
			[]metric{mDeliv, mP99, mCPUPerM, mRSS}
	default:
		return []metric{mConnsOK, mConnect, mRSSBase, mRSS, mMarginal, mCPU},
			[]metric{mConnect, mRSS, mMarginal, mCPU}
	}
}

func allMetrics() []metric {
	return []metric{mConnsOK, mConnect, mRSSBase, mRSS, mRSSPeak, mMarginal, mCPU, mMsgs, mP50, mP99, mP999, mCPUPerM, mCPUPerMsg, mMsgsPerCPU, mMemAvail, mLoadCPU, mWindow, mDeliv, mLost}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarize turns rounds into one summary per server, in -servers order.
func summarize(sp spec, cfg *config, rs []roundResult, env settings) []summary {
	env.Sysctls = sp.sysctls
	switch sp.name {
	case "echo":
		env.WarmupSecs, env.DurationSecs, env.Inflight = sp.warmup.Seconds(), sp.duration.Seconds(), sp.inflight
	case "fanout":
		env.WarmupSecs, env.DurationSecs = sp.warmup.Seconds(), sp.duration.Seconds()
	default:
		env.HoldSeconds = sp.hold.Seconds()
	}
	var out []summary
	for _, srv := range cfg.servers {
		s := summary{Scenario: sp.name, Tag: sp.tag, Server: srv, Conns: sp.conns, MsgBytes: sp.size, Rate: sp.rate,
			ServerProcs: sp.serverProcs, LoadProcs: ceilDiv(sp.conns, cfg.perLoad), Settings: env, Raw: []roundResult{}}
		for _, r := range rs {
			if r.Server != srv {
				continue
			}
			s.Rounds++
			s.Raw = append(s.Raw, r)
			s.Errors += r.Errors
			if r.Error != "" {
				s.FailedRounds++
				continue
			}
			s.RoundsOK++
		}
		if s.Rounds == 0 {
			continue
		}
		for _, m := range allMetrics() {
			var vals []float64
			for i := range s.Raw {
				if s.Raw[i].Error == "" {
					vals = append(vals, m.get(&s.Raw[i]))
				}
			}
			*m.sum(&s) = median(vals)
		}
		if sp.name == "fanout" {
			fillFanoutSummary(sp, &s)
		}
		out = append(out, s)
	}
	for i := range out {
		out[i].Ratio = ratiosTo(out, "wsloop", &out[i])
		out[i].RatioFloor = ratiosTo(out, "floor", &out[i])
	}
	if sp.name == "fanout" {
		ratiosToBestPeer(out)
	}
	return out
}

// ratiosTo returns every figure of s divided by the same figure of the
// server named ref, or nil when either has no successful round.
func ratiosTo(sums []summary, ref string, s *summary) map[string]float64 {
	var r *summary
	for i := range sums {
		if sums[i].Server == ref && sums[i].RoundsOK > 0 {
			r = &sums[i]
		}
	}
	if r == nil || s.RoundsOK == 0 {
		return nil
	}
	out := map[string]float64{}
	for _, m := range allMetrics() {
		a, b := *m.sum(s), *m.sum(r)
		if b != 0 && !math.IsNaN(a/b) && !math.IsInf(a/b, 0) {
			out[m.key] = a / b
		}
	}
	return out
}

// floorKey is the figure whose ratio to floor's gets a column of its own
// in the echo table: how far each server is from the floor.
const floorKey = "server_cpu_us_per_msg"

func formatValue(m metric, v float64) string {
	return fmt.Sprintf("%.*f", m.digits, v/m.scale)
}

// printTable prints one scenario's medians, each with its ratio to wsloop;
// the echo table adds each server's CPU per message as a multiple of
// floor's, when floor ran.
func printTable(w io.Writer, sp spec, sums []summary) {
	table, _ := metricsFor(sp.name)
	fmt.Fprintf(w, "\n## %s", sp.tag)
	switch sp.name {
	case "fanout":
		fmt.Fprintf(w, " — %d subscribers × %d topic(s) (each subscribed to all), %d B publications at %s/s in total (offered %.0f deliveries/s), %d server process(es) each, %v measured after %v warmup",
			sp.conns, sp.topics, sp.size, strconv.FormatFloat(sp.rate, 'f', -1, 64), sp.rate*float64(sp.conns), sp.serverProcs, sp.duration, sp.warmup)
	case "echo":
		mode := "closed loop, inflight " + fmt.Sprint(sp.inflight)
		if sp.rate > 0 {
			mode = fmt.Sprintf("open loop, %.0f msgs/s offered", sp.rate)
		}
		fmt.Fprintf(w, " — %d conns × %d B, %s, %v measured after %v warmup", sp.conns, sp.size, mode, sp.duration, sp.warmup)
	default:
		fmt.Fprintf(w, " — %d idle conns, %d server process(es) each, held %v", sp.conns, sp.serverProcs, sp.hold)
	}
	floorCol := false
	for i := range sums {
		_, ok := sums[i].RatioFloor[floorKey]
		floorCol = floorCol || sp.name == "echo" && ok
	}
	if len(sums) > 0 {
		fmt.Fprintf(w, "; median of %d round(s); (×) = ratio to wsloop", sums[0].Rounds)
		if floorCol {
			fmt.Fprint(w, "; ÷ floor = CPU/msg divided by floor's (the least an echo costs here)")
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"server", "ok/rounds"}
	for _, m := range table {
		h := m.title
		if m.unit != "" {
			h += " (" + m.unit + ")"
		}
		hdr = append(hdr, h)
		if floorCol && m.key == floorKey {
			hdr = append(hdr, "÷ floor")
		}
	}
	hdr = append(hdr, "errors")
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for i := range sums {
		s := &sums[i]
		row := []string{s.Server, fmt.Sprintf("%d/%d", s.RoundsOK, s.Rounds)}
		for _, m := range table {
			cell := "-"
			if s.RoundsOK > 0 {
				cell = formatValue(m, *m.sum(s))
				if r, ok := s.Ratio[m.key]; ok {
					cell += fmt.Sprintf(" (%.2f×)", r)
				}
			}
			row = append(row, cell)
			if floorCol && m.key == floorKey {
				cell = "-"
				if r, ok := s.RatioFloor[m.key]; ok {
					cell = fmt.Sprintf("%.2f×", r)
				}
				row = append(row, cell)
			}
		}
		row = append(row, fmt.Sprint(s.Errors))
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	for i := range sums {
		for _, r := range sums[i].Raw {
			if r.Error != "" {
				fmt.Fprintf(w, "  %s round %d failed: %s\n", r.Server, r.Round, r.Error)
			}
		}
	}
	for _, g := range goals(sp, sums) {
		fmt.Fprintln(w, "  goal:", g)
	}
}

// goals checks the figures the issue asks of wsloop, where this run has
// what they compare.
func goals(sp spec, sums []summary) []string {
	get := func(name string) *summary {
		for i := range sums {
			if sums[i].Server == name && sums[i].RoundsOK > 0 {
				return &sums[i]
			}
		}
		return nil
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	if sp.name == "fanout" {
		return fanoutGoals(sp, sums)
	}
	w := get("wsloop")
	if w == nil {
		return nil
	}
	var out []string
	switch sp.name {
	case "idle", "million":
		if g := get("gorilla"); g != nil && w.RSSMarginal > 0 {
			r := g.RSSMarginal / w.RSSMarginal
			out = append(out, fmt.Sprintf("idle memory per connection ≥ 30× lower than gorilla's: %.1f× — %s", r, verdict(r >= 30)))
		}
		if sp.name == "million" {
			out = append(out, fmt.Sprintf("%d connections held: %.0f — %s", sp.conns, w.ConnsOK, verdict(w.ConnsOK >= float64(sp.conns))))
			if sp.conns >= 1_000_000 {
				out = append(out, fmt.Sprintf("established in ≤ 40 s: %.1f s — %s", w.ConnectSeconds, verdict(w.ConnectSeconds <= 40)))
			}
			out = append(out, fmt.Sprintf("marginal RSS ≤ 400 B/conn over all processes: %.0f B — %s", w.RSSMarginal, verdict(w.RSSMarginal <= 400)))
		}
	case "echo":
		best := 0.0
		var bestName string
		for _, n := range []string{"gws", "nbio"} {
			if s := get(n); s != nil && s.MsgsPerSec > best {
				best, bestName = s.MsgsPerSec, n
			}
		}
		if best > 0 {
			r := w.MsgsPerSec / best
			out = append(out, fmt.Sprintf("msgs/s ≥ 1.2× the best of gws and nbio (%s): %.2f× — %s", bestName, r, verdict(r >= 1.2)))
		}
		if g := get("gorilla"); g != nil && g.MsgsPerCPUSec > 0 {
			r := w.MsgsPerCPUSec / g.MsgsPerCPUSec
			out = append(out, fmt.Sprintf("msgs per server CPU-second ≥ 3× gorilla's: %.2f× — %s", r, verdict(r >= 3)))
			out = append(out, fmt.Sprintf("p99 lower than gorilla's: %.0f µs vs %.0f µs — %s", w.P99us, g.P99us, verdict(w.P99us < g.P99us)))
		}
	}
	return out
}

func writeJSON(path string, sums any) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(sums, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
