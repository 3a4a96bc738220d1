//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScenariosTiny runs every scenario once at a tiny size against wsloop
// and gorilla (and, for echo, floor) through the real command path (build,
// start, pin, load, measure, stop, JSON, charts), so that the harness
// cannot rot: echo closed loop with 1 and with 8 messages in flight per
// connection, and open loop. The million scenario runs with 2,000
// connections over 2 server processes and 2 load processes, without
// touching sysctls.
func TestScenariosTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and load generators; skipped in -short mode")
	}
	binDir := t.TempDir()
	echoArgs := []string{"-size", "64", "-duration", "1s", "-warmup", "300ms"}
	cases := []struct {
		name     string
		scenario string
		servers  string
		conns    int
		args     []string
	}{
		{"idle", "idle", "wsloop,gorilla", 200, []string{"-hold", "1s"}},
		{"echo", "echo", "wsloop,gorilla,floor", 50, echoArgs},
		{"echo inflight 8", "echo", "wsloop,gorilla,floor", 50, append([]string{"-inflight", "8"}, echoArgs...)},
		{"echo open loop", "echo", "wsloop,wsloop-pool,gorilla,floor", 50, append([]string{"-rate", "10000"}, echoArgs...)},
		{"million", "million", "wsloop,gorilla", 2000, []string{"-procs", "2", "-per-load", "1000", "-no-sysctl", "-hold", "1s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			jsonPath := filepath.Join(out, "r.json")
			charts := filepath.Join(out, "charts")
			servers := strings.Split(tc.servers, ",")
			args := append([]string{
				"-scenario", tc.scenario, "-servers", tc.servers, "-conns", strconv.Itoa(tc.conns),
				"-rounds", "1", "-settle", "200ms", "-mem-floor", "256MiB",
				"-json", jsonPath, "-charts", charts, "-bin-dir", binDir, "-progress=false", "-warm-run=false",
			}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, args, &stdout, &stderr)
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			if err != nil {
				t.Fatalf("wsbench %s: %v", strings.Join(args, " "), err)
			}
			wants := append([]string{"×)"}, servers...)
			if tc.scenario == "echo" {
				wants = append(wants, "CPU/msg (µs)", "÷ floor")
			}
			for _, want := range wants {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("table lacks %q", want)
				}
			}

			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var sums []summary
			if err := json.Unmarshal(b, &sums); err != nil {
				t.Fatalf("JSON: %v", err)
			}
			// The documented field names are present in the raw JSON too.
			var raw []map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"scenario", "server", "conns", "msg_bytes", "msgs_per_sec", "p50_us", "p99_us", "p999_us",
				"server_cpu_seconds", "server_cpu_us_per_msg", "rss_bytes", "rss_marginal_bytes_per_conn", "errors", "rounds", "raw", "settings"} {
				if _, ok := raw[0][k]; !ok {
					t.Errorf("JSON object lacks %q", k)
				}
			}
			if len(sums) != len(servers) {
				t.Fatalf("want %d results (%s), got %d", len(servers), tc.servers, len(sums))
			}
			for _, s := range sums {
				checkSummary(t, tc.scenario, tc.conns, s)
			}
			if sums[0].Ratio["rss_bytes"] != 1 {
				t.Errorf("wsloop's ratio to itself = %v, want 1", sums[0].Ratio["rss_bytes"])
			}
			if tc.scenario == "echo" {
				for _, s := range sums {
					if r := s.RatioFloor[floorKey]; r <= 0 || s.Server == "floor" && r != 1 {
						t.Errorf("%s: CPU/msg ratio to floor %v", s.Server, r)
					}
				}
				if _, ok := raw[0]["ratio_to_floor"]; !ok {
					t.Error("JSON object lacks ratio_to_floor")
				}
			}

			pngs, _ := filepath.Glob(filepath.Join(charts, "*.png"))
			_, want := metricsFor(tc.scenario)
			if len(pngs) != len(want) {
				t.Errorf("%d charts, want %d: %v", len(pngs), len(want), pngs)
			}
			for _, p := range pngs {
				b, err := os.ReadFile(p)
				if err != nil || len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
					t.Errorf("%s is not a plausible PNG (%d bytes, %v)", p, len(b), err)
				}
			}
		})
	}
}

func checkSummary(t *testing.T, scenario string, conns int, s summary) {
	t.Helper()
	bad := func(format string, a ...any) { t.Errorf(s.Server+": "+format, a...) }
	if s.Scenario != scenario || s.Conns != conns || s.Rounds != 1 || s.RoundsOK != 1 {
		bad("scenario %q conns %d rounds %d ok %d; raw %+v", s.Scenario, s.Conns, s.Rounds, s.RoundsOK, s.Raw)
		return
	}
	if s.ConnsOK != float64(conns) || s.Errors != 0 {
		bad("conns_ok %v of %d, errors %d", s.ConnsOK, conns, s.Errors)
	}
	if s.RSSBaseBytes < 1<<20 || s.RSSBytes < s.RSSBaseBytes/2 || s.RSSBytes > 4<<30 {
		bad("implausible RSS: base %v, with %v", s.RSSBaseBytes, s.RSSBytes)
	}
	if s.ConnectSeconds <= 0 || s.ConnectSeconds > 30 {
		bad("connect_seconds %v", s.ConnectSeconds)
	}
	if s.ServerCPU < 0 {
		bad("server_cpu_seconds %v", s.ServerCPU)
	}
	if s.Settings.NumCPU < 1 || s.Settings.Kernel == "" || s.Settings.GOGC == "" {
		bad("settings not filled: %+v", s.Settings)
	}
	switch scenario {
	case "echo":
		if s.MsgBytes != 64 || s.MsgsPerSec <= 0 || s.P50us <= 0 || s.P50us > s.P99us || s.P99us > s.P999us {
			bad("echo figures: %d B, %v msgs/s, p50 %v p99 %v p999 %v", s.MsgBytes, s.MsgsPerSec, s.P50us, s.P99us, s.P999us)
		}
		if s.ServerCPU <= 0 || s.CPUPerMillion <= 0 || math.Abs(s.CPUPerMsgUs-s.CPUPerMillion) > 1e-9*s.CPUPerMillion {
			bad("echo CPU: %v s, %v s per M msgs, %v µs per msg", s.ServerCPU, s.CPUPerMillion, s.CPUPerMsgUs)
		}
	case "million":
		if s.ServerProcs != 2 || s.LoadProcs != 2 || s.Raw[0].LoadProcs != 2 || s.Settings.Sysctls {
			bad("million: %d server procs, %d load procs, sysctls %v", s.ServerProcs, s.LoadProcs, s.Settings.Sysctls)
		}
	}
}

// TestSysctlGuard checks the save/set/restore cycle on a fake /proc/sys:
// only values below the target are changed, and restoreAll puts back
// exactly what was there, once, however often it is called.
func TestSysctlGuard(t *testing.T) {
	root := t.TempDir()
	old := sysctlRoot
	sysctlRoot = root
	defer func() { sysctlRoot = old }()
	initial := map[string]string{
		"fs.file-max":                  "2466177",
		"fs.nr_open":                   "1048576",
		"net.core.somaxconn":           "4096",
		"net.ipv4.tcp_max_syn_backlog": "2048",
		"net.ipv4.ip_local_port_range": "32768\t60999",
		// tcp_migrate_req deliberately absent: skipped, not an error.
	}
	for k, v := range initial {
		p := sysctlPath(k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := &sysctlGuard{logf: t.Logf}
	if err := g.apply(millionSysctls); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"fs.file-max":                  "4000000",
		"fs.nr_open":                   "1048576",
		"net.core.somaxconn":           "65535",
		"net.ipv4.tcp_max_syn_backlog": "65535",
		"net.ipv4.ip_local_port_range": "1024 65535",
	}
	for k, v := range want {
		if got, _ := readSysctl(k); got != v {
			t.Errorf("after apply %s = %q, want %q", k, got, v)
		}
	}
	g.restoreAll()
	g.restoreAll()
	for k, v := range initial {
		if got, _ := readSysctl(k); got != strings.Join(strings.Fields(v), " ") {
			t.Errorf("after restore %s = %q, want %q", k, got, v)
		}
	}
}

func TestParseHelpers(t *testing.T) {
	for in, want := range map[string]int64{"4GiB": 4 << 30, "512MiB": 512 << 20, "1000": 1000, "1.5KiB": 1536} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if r, ok := parseReady("READY 17990 10 3.250"); !ok || r.ok != 17990 || r.failed != 10 || r.secs != 3.25 {
		t.Errorf("parseReady: %+v %v", r, ok)
	}
	if _, ok := parseReady("READY x"); ok {
		t.Error("parseReady accepted a bad line")
	}
	if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
	s := newSrcBlocks()
	seen := map[string]bool{}
	for i := 0; i < 70000; i++ {
		a := s.take()
		if !strings.HasPrefix(a, "127.") || strings.HasPrefix(a, "127.0.") || !strings.HasSuffix(a, ".1") {
			t.Fatalf("bad source block %q", a)
		}
		if i < 253*256 && seen[a] {
			t.Fatalf("source block %q handed out twice", a)
		}
		seen[a] = true
	}
}

// TestFanoutTiny runs the fanout scenario small against every server
// through the real command path: 300 subscribers over 2 server processes
// and 2 load processes, 3 topics, two rates. Every publication must reach
// every subscriber, in order, with latencies reported; wsloop's own
// sequence numbers are checked in the wsloop.bin form; wsloop runs its two
// processes through a nats-server started for the run.
func TestFanoutTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and load generators; skipped in -short mode")
	}
	out := t.TempDir()
	jsonPath := filepath.Join(out, "r.json")
	charts := filepath.Join(out, "charts")
	const subs = 300
	args := []string{
		"-scenario", "fanout", "-servers", strings.Join(fanoutServers, ","), "-subscribers", strconv.Itoa(subs), "-topics", "3",
		"-rate", "20,40", "-duration", "500ms", "-warmup", "300ms", "-drain", "500ms", "-procs", "2", "-per-load", "150",
		"-rounds", "1", "-settle", "200ms", "-mem-floor", "256MiB",
		"-json", jsonPath, "-charts", charts, "-bin-dir", t.TempDir(), "-progress=false", "-warm-run=false",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("wsbench %s: %v", strings.Join(args, " "), err)
	}
	if !strings.Contains(stdout.String(), "## fanout sweep") {
		t.Error("no sweep table for two rates")
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var raw []map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, obj := range raw {
		if obj["rounds_ok"] == 0.0 {
			continue
		}
		for _, k := range []string{"scenario", "server", "conns", "msg_bytes", "rate_offered", "msgs_per_sec", "p50_us", "p99_us",
			"server_cpu_seconds", "rss_bytes", "errors", "subscribers", "topics", "deliveries_per_sec", "fanout", "raw", "settings"} {
			if _, ok := obj[k]; !ok {
				t.Errorf("JSON object of %v lacks %q", obj["server"], k)
			}
		}
	}
	var sums []summary
	if err := json.Unmarshal(b, &sums); err != nil {
		t.Fatal(err)
	}
	if want := 2 * len(fanoutServers); len(sums) != want {
		t.Fatalf("want %d results (%d servers × 2 rates), got %d", want, len(fanoutServers), len(sums))
	}
	for _, s := range sums {
		bad := func(format string, a ...any) {
			t.Errorf("%s at %v/s: "+format, append([]any{s.Server, s.Rate}, a...)...)
		}
		if s.RoundsOK != 1 || s.Subscribers != subs || s.Topics != 3 || s.ServerProcs != 2 || s.LoadProcs != 2 || s.Fanout == nil {
			bad("rounds ok %d, subscribers %d, topics %d, procs %d/%d; raw %+v", s.RoundsOK, s.Subscribers, s.Topics, s.ServerProcs, s.LoadProcs, s.Raw)
			continue
		}
		r := s.Raw[0]
		f := r.Fanout
		if r.ConnsOK != subs || s.Errors != 0 {
			bad("conns %d, errors %d", r.ConnsOK, s.Errors)
		}
		if f.Publications < 1 || f.PublishPosted != f.Publications || f.PublishPosts != int64(f.Endpoints)*f.Publications || f.PublishSkipped != 0 {
			bad("publications %d, posted %d, posts %d, skipped %d", f.Publications, f.PublishPosted, f.PublishPosts, f.PublishSkipped)
		}
		if want := f.Publications * subs; f.DeliveriesExpected != want || f.DeliveriesTotal != want || f.Lost != 0 || f.Gaps != 0 || f.Dups != 0 {
			bad("deliveries %d of %d expected (%d publications × %d), lost %d, gaps %d, dups %d",
				f.DeliveriesTotal, f.DeliveriesExpected, f.Publications, subs, f.Lost, f.Gaps, f.Dups)
		}
		// The rate is a timing figure (benchmarks judge it, not this
		// test): it need only be there; the counts above are exact.
		if s.DeliveriesPerSec <= 0 || s.MsgsPerSec != s.DeliveriesPerSec {
			bad("deliveries/s %.0f (msgs/s %.0f)", s.DeliveriesPerSec, s.MsgsPerSec)
		}
		if s.P50us <= 0 || s.P50us > s.P99us || s.ServerCPU < 0 {
			bad("p50 %v p99 %v, cpu %v", s.P50us, s.P99us, s.ServerCPU)
		}
		if s.Fanout.BestPeer == "" || s.Fanout.RatioToBestPeer["deliveries_per_sec"] <= 0 {
			bad("no ratio to the best peer: %+v", s.Fanout)
		}
		if strings.HasPrefix(s.Server, "wsloop") {
			if f.SeqChecked != f.DeliveriesTotal || f.BinaryMsgs != f.DeliveriesTotal || f.SeqGaps != 0 || f.SeqDups != 0 || f.NATS != (s.Server == "wsloop") {
				bad("wsloop forms: %d of %d deliveries with a sequence, %d binary, seq gaps %d dups %d, nats %v",
					f.SeqChecked, f.DeliveriesTotal, f.BinaryMsgs, f.SeqGaps, f.SeqDups, f.NATS)
			}
		}
		// wsloop publishes to one process (NATS carries it on), the others
		// to every process.
		if wantEP := map[bool]int{true: 1, false: 2}[s.Server == "wsloop"]; f.Endpoints != wantEP {
			bad("%d publish endpoints, want %d", f.Endpoints, wantEP)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(charts, "*.png"))
	if _, want := metricsFor("fanout"); len(pngs) != 2*len(want) {
		t.Errorf("%d charts, want %d", len(pngs), 2*len(want))
	}
}

// TestEchoTableFloor checks the echo table's CPU per message and its
// ratio to floor from made-up rounds: the column is there when floor ran,
// "-" for a server without a successful round, absent without floor.
func TestEchoTableFloor(t *testing.T) {
	cfg := &config{servers: []string{"wsloop", "nbio", "floor"}, perLoad: 18000}
	sp := spec{name: "echo", tag: "echo-64Bx1000-rate20000", conns: 1000, size: 64, rate: 20000, inflight: 1, serverProcs: 1}
	rounds := []roundResult{
		{Round: 1, Server: "wsloop", MsgsPerSec: 20000, CPUPerMsgUs: 30, CPUPerMillion: 30},
		{Round: 1, Server: "nbio", Error: "server died"},
		{Round: 1, Server: "floor", MsgsPerSec: 20000, CPUPerMsgUs: 12, CPUPerMillion: 12},
	}
	sums := summarize(sp, cfg, rounds, settings{})
	if got := sums[0].RatioFloor[floorKey]; got != 2.5 {
		t.Errorf("wsloop's CPU/msg ratio to floor = %v, want 2.5", got)
	}
	if sums[1].RatioFloor != nil || sums[2].RatioFloor[floorKey] != 1 {
		t.Errorf("ratios to floor: nbio %v, floor %v", sums[1].RatioFloor, sums[2].RatioFloor)
	}
	var out bytes.Buffer
	printTable(&out, sp, sums)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	t.Logf("\n%s", out.String())
	if len(lines) < 5 || !strings.Contains(lines[0], "÷ floor") {
		t.Fatalf("table:\n%s", out.String())
	}
	// The columns are right-aligned: a cell ends where its header does.
	hdr := []rune(lines[1])
	end := func(h string) int {
		i := strings.Index(lines[1], h)
		if i < 0 {
			t.Fatalf("no %q in the header %q", h, lines[1])
		}
		return len([]rune(lines[1][:i+len(h)]))
	}
	cpuEnd, floorEnd := end("CPU/msg (µs)"), end("÷ floor")
	// ends reports whether the cell ending at column e of row reads want.
	ends := func(row []rune, e int, want string) bool {
		if len(row) != len(hdr) {
			t.Fatalf("row %q is not as wide as the header", string(row))
		}
		return strings.HasSuffix(string(row[:e]), " "+want)
	}
	for i, want := range [][2]string{{"30.00 (1.00×)", "2.50×"}, {"-", "-"}, {"12.00 (0.40×)", "1.00×"}} {
		if row := []rune(lines[2+i]); !ends(row, cpuEnd, want[0]) || !ends(row, floorEnd, want[1]) {
			t.Errorf("row %q: want CPU/msg %q, ÷ floor %q", lines[2+i], want[0], want[1])
		}
	}

	// Without floor: no column.
	cfg.servers = []string{"wsloop", "nbio"}
	out.Reset()
	printTable(&out, sp, summarize(sp, cfg, rounds[:2], settings{}))
	if strings.Contains(out.String(), "floor") {
		t.Errorf("floor column without floor:\n%s", out.String())
	}
}
