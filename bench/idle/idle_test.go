//go:build linux

package idle

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
	"github.com/wsloop/wsloop/bench/loadgen"
	"github.com/wsloop/wsloop/internal/syncbuf"
)

const (
	// fullN is the connection count the project's requirement is stated for.
	fullN = 18000
	// requirement is the project's marginal RSS per idle connection at
	// fullN. It is the figure being tracked (about 590 B): every reading
	// is printed with it, BenchmarkIdleMemory reports it as B/conn, and
	// BENCHMARKS.md shows it; the test does not fail on it.
	requirement = 600
	// fullBound is the test's gate at fullN, with honest headroom over the
	// ~590 B measured: readings on a shared machine spread by about ±10 B
	// (a fresh CI machine once gave a median of 597 B), so a gate at the
	// requirement itself fails on noise. 700 B catches what a gate is for:
	// a regression such as a new per-connection allocation of 100 B or
	// more.
	fullBound = 700
	// quickN and quickBound are the defaults of a plain `go test`: fewer
	// connections make the per-connection figure noisier, so the bound is
	// looser.
	quickN     = 2000
	quickBound = 1500
	// warmN connections are opened and closed before the baseline is taken,
	// so one-time initialisation (pools, lazily sized tables) is not counted
	// as a per-connection cost.
	warmN = 64
)

type result struct {
	n, fds                    int
	base, with                int64 // bytes
	marginal                  float64
	establishElapsed, settled string
}

// idleN returns the connection count and the bound that applies to it.
func idleN(t testing.TB, def int) (int, float64) {
	n := def
	if s := os.Getenv("WSLOOP_IDLE_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 18500 {
			t.Fatalf("WSLOOP_IDLE_N=%q: want an integer in [1, 18500] (one server process is capped at 20,000 open files)", s)
		}
		n = v
	}
	if n >= fullN {
		return n, fullBound
	}
	return n, quickBound
}

// TestIdleMemory opens WSLOOP_IDLE_N (default 2000) idle connections and
// checks the marginal RSS per connection: at most fullBound (700 B) from
// 18,000 connections up, at most 1500 B below that. Every reading is
// printed, at full size with whether it meets the 600 B requirement it is
// tracked against. The full measurement is taken five times, each against
// a fresh server process, and the median is checked, so that one noisy
// reading on a shared machine (they spread over about ±10 B) neither
// passes nor fails it alone.
//
// At full size it then does the same with permessage-deflate negotiated on
// every connection (server -compress, clients offering it) and checks that
// the median is within 10% of the uncompressed one: a connection holds no
// compressor while idle.
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping idle memory measurement in -short mode")
	}
	n, bound := idleN(t, quickN)
	plain := medianMarginal(t, n, false, bound)
	if plain > bound {
		t.Fatalf("median marginal RSS %.0f B per idle connection exceeds %.0f B", plain, bound)
	}
	if n < fullN {
		return
	}
	compressed := medianMarginal(t, n, true, bound)
	if compressed > plain*1.10 {
		t.Fatalf("with permessage-deflate negotiated: median %.0f B per idle connection, more than 10%% over the %.0f B without", compressed, plain)
	}
}

// medianMarginal measures n idle connections once below full size, five
// times (fresh servers) at full size, prints every reading and returns the
// median marginal RSS per connection.
func medianMarginal(t *testing.T, n int, compress bool, bound float64) float64 {
	runs := 1
	if n >= fullN {
		runs = 5
	}
	var rs []result
	for range runs {
		r := measure(t, n, compress)
		line := fmt.Sprintf("idle: conns=%d compress=%v rss_base=%d rss_with=%d marginal_per_conn=%.0f B (%sgate %.0f B, server fds=%d, established in %s, rss settled after %s)",
			r.n, compress, r.base, r.with, r.marginal, requirementNote(r), bound, r.fds, r.establishElapsed, r.settled)
		fmt.Println(line)
		t.Log(line)
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.marginal, b.marginal) })
	return rs[len(rs)/2].marginal
}

// requirementNote says, for a reading at full size, whether it meets the
// 600 B requirement (the tracked figure; only fullBound fails the test).
func requirementNote(r result) string {
	if r.n < fullN {
		return ""
	}
	if r.marginal <= requirement {
		return fmt.Sprintf("requirement %d B met, ", requirement)
	}
	return fmt.Sprintf("requirement %d B NOT met, ", requirement)
}

// BenchmarkIdleMemory is the full measurement: WSLOOP_IDLE_N (default
// 18,000) idle connections, reported as the B/conn metric (the figure
// tracked against the 600 B requirement). Run it once:
//
//	go test -run '^$' -bench IdleMemory -benchtime 1x ./idle
func BenchmarkIdleMemory(b *testing.B) {
	n, bound := idleN(b, fullN)
	var r result
	for range b.N {
		r = measure(b, n, false)
	}
	b.ReportMetric(r.marginal, "B/conn")
	b.ReportMetric(float64(r.base), "rss_base_B")
	b.ReportMetric(float64(r.with), "rss_with_B")
	fmt.Printf("idle: conns=%d rss_base=%d rss_with=%d marginal_per_conn=%.0f B (%sgate %.0f B)\n", r.n, r.base, r.with, r.marginal, requirementNote(r), bound)
	if r.marginal > bound {
		b.Fatalf("marginal RSS %.0f B per idle connection exceeds %.0f B", r.marginal, bound)
	}
}

// measure starts a wsloop server (with -compress, and clients offering
// permessage-deflate, when compress is set) and returns the marginal RSS
// of n idle connections to it.
func measure(t testing.TB, n int, compress bool) result {
	dir := t.TempDir()
	wsloop := filepath.Join(dir, "wsloop")
	wsload := filepath.Join(dir, "wsload")
	goBuild(t, wsloop, "github.com/wsloop/wsloop/cmd/wsloop")
	goBuild(t, wsload, "github.com/wsloop/wsloop/bench/cmd/wsload")

	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	srvArgs := []string{"-addr", addr}
	var ext []string
	if compress {
		srvArgs = append(srvArgs, "-compress")
		ext = []string{"-extensions", "permessage-deflate"}
	}
	srv := exec.CommandContext(ctx, wsloop, srvArgs...)
	srvOut := &syncbuf.Buffer{}
	srv.Stdout = srvOut
	srv.Stderr = srvOut
	srv.WaitDelay = 5 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	})
	waitListening(t, addr, srv)
	pid := srv.Process.Pid

	// Warm up, then take the baseline with no connections open.
	if r := runWsload(t, ctx, wsload, addr, warmN); r.ConnsOK != warmN {
		t.Fatalf("warm-up: %d of %d connections", r.ConnsOK, warmN)
	}
	time.Sleep(2 * time.Second)
	base, _ := settledRSS(t, pid)

	// Open n connections and hold them.
	load := exec.CommandContext(ctx, wsload, append([]string{"-mode", "idle", "-addr", addr, "-conns", strconv.Itoa(n),
		"-src", freshSources(), "-src-count", "4", "-hold", "5m", "-json"}, ext...)...)
	stdin, err := load.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := load.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	loadErr := &syncbuf.Buffer{}
	load.Stderr = loadErr
	load.WaitDelay = 5 * time.Second
	if err := load.Start(); err != nil {
		t.Fatalf("start wsload: %v", err)
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	ready := waitLine(t, lines, "READY ", 5*time.Minute, loadErr)
	var ok, failed int
	var secs float64
	if _, err := fmt.Sscanf(ready, "READY %d %d %g", &ok, &failed, &secs); err != nil {
		t.Fatalf("bad READY line %q: %v", ready, err)
	}
	if ok != n || failed != 0 {
		t.Fatalf("wsload established %d of %d connections (%d failed); stderr:\n%s\nserver output:\n%s", ok, n, failed, loadErr.String(), srvOut.String())
	}
	elapsed := time.Duration(secs * float64(time.Second)).Round(time.Millisecond).String()
	// Give the server time to finish any per-connection work and to trim
	// its heap (cmd/wsloop does so once the connection count has held still
	// for 2 s, checked on its 1 s tick), then sample until the RSS settles.
	time.Sleep(5 * time.Second)
	with, settledAfter := settledRSS(t, pid)
	fds := countFDs(pid)

	// End the hold and check that no connection was dropped meanwhile.
	_ = stdin.Close()
	final := waitLine(t, lines, "{", time.Minute, loadErr)
	var res loadgen.Result
	if err := json.Unmarshal([]byte(final), &res); err != nil {
		t.Fatalf("wsload result %q: %v", final, err)
	}
	if res.ConnsOK != n || res.Errors != 0 {
		t.Fatalf("connections were lost while idle: %+v", res)
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("wsload: %v; stderr:\n%s", err, loadErr.String())
	}
	if fds < n {
		t.Fatalf("server holds %d fds, fewer than the %d connections", fds, n)
	}
	return result{
		n: n, fds: fds, base: base, with: with,
		marginal:         float64(with-base) / float64(n),
		establishElapsed: elapsed,
		settled:          settledAfter,
	}
}

func goBuild(t testing.TB, out, pkg string) {
	t.Helper()
	goTool := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func waitListening(t testing.TB, addr string, srv *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if srv.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server did not listen on %s within 20s", addr)
}

// runWsload opens n idle connections, closes them at once and returns
// wsload's result.
func runWsload(t testing.TB, ctx context.Context, bin, addr string, n int) loadgen.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-mode", "idle", "-addr", addr, "-conns", strconv.Itoa(n),
		"-src", freshSources(), "-hold", "1ms", "-json")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("wsload -conns %d: %v\n%s", n, err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var r loadgen.Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("wsload result %q: %v", b, err)
	}
	return r
}

// freshSources picks a block of source addresses (127.0.X.2 onwards) unlikely
// to hold TIME_WAIT sockets from an earlier run to the same port.
func freshSources() string {
	return fmt.Sprintf("127.0.%d.2", 16+rand.IntN(200))
}

func waitLine(t testing.TB, lines <-chan string, prefix string, timeout time.Duration, stderr fmt.Stringer) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("wsload exited before printing %q; stderr:\n%s", prefix, stderr.String())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timer.C:
			t.Fatalf("wsload printed no %q line within %v; stderr:\n%s", prefix, timeout, stderr.String())
		}
	}
}

// rss returns VmRSS of pid in bytes.
func rss(t testing.TB, pid int) int64 {
	t.Helper()
	v, err := procfs.RSS(pid)
	if err != nil {
		t.Fatalf("RSS of the server: %v", err)
	}
	return v
}

// settledRSS samples the RSS every 500 ms until two consecutive samples
// differ by less than 64 KiB (at most 30 samples) and returns the last one.
func settledRSS(t testing.TB, pid int) (int64, string) {
	t.Helper()
	start := time.Now()
	prev := rss(t, pid)
	for range 30 {
		time.Sleep(500 * time.Millisecond)
		cur := rss(t, pid)
		d := cur - prev
		prev = cur
		if d < 64<<10 && d > -(64<<10) {
			break
		}
	}
	return prev, time.Since(start).Round(100 * time.Millisecond).String()
}

func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}
