package soak

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// soakEnv enables TestSoakShort: `make test` sets it and runs the test in
// a step of its own, so that it does not share the machine with the
// other packages' tests.
const soakEnv = "WSLOOP_SOAK"

// testLog adapts t.Log to an io.Writer.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSoakShort is the two-minute version of `make soak`: churn and every
// fault on a smaller scale, with the same checks (slopes reported only).
func TestSoakShort(t *testing.T) {
	if os.Getenv(soakEnv) != "short" {
		t.Skip("set " + soakEnv + "=short to run (make test does)")
	}
	cfg := Short()
	cfg.Out = t.TempDir()
	if dir := os.Getenv(soakEnv + "_OUT"); dir != "" {
		cfg.Out = dir // keep the samples, plots and any goroutine dumps
	}
	cfg.Log = testLog{t}
	cfg.NewLink, cfg.LinkMissing = DefaultLink()
	if cfg.NewLink == nil {
		t.Logf("netns phases skipped: %s", cfg.LinkMissing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Checks {
		switch {
		case c.Info:
			t.Logf("info %s / %s: %s", c.Phase, c.Name, c.Value)
		case c.Pass:
			t.Logf("ok   %s / %s: %s", c.Phase, c.Name, c.Value)
		default:
			t.Errorf("FAIL %s / %s: %s (want %s)", c.Phase, c.Name, c.Value, c.Tolerance)
		}
	}
	for _, s := range res.Skipped {
		t.Logf("skipped: %s", s)
	}
	if res.Churn.OK == 0 || res.Subs.Received == 0 {
		t.Errorf("nothing happened: %d churn connections, %d publications received", res.Churn.OK, res.Subs.Received)
	}
}
