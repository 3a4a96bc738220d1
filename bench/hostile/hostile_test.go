package hostile

import (
	"testing"
	"time"
)

// startWsloop starts the wsloop binary (built once per test binary) with
// its defaults plus extra flags, and stops it when the test ends.
func startWsloop(t *testing.T, extra ...string) *Target {
	t.Helper()
	srv, err := StartWsloop(wsloopBin(t), extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(15 * time.Second) })
	return srv
}

// TestHostile runs every case against wsloop at its defaults: each must
// get the RFC's answer, and after each the server must come back (a fresh
// client echoes; connections, goroutines and descriptors at the
// baseline; RSS within RSSBound). The compression cases run on a second
// wsloop with -compress; the long cases (waiting for a server timeout)
// on a third, in parallel.
func TestHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	plain := startWsloop(t)
	compress := startWsloop(t, "-compress")
	side := startWsloop(t)

	var long, main, comp []*Case
	for _, c := range All() {
		switch {
		case c.Long:
			long = append(long, c)
		case c.Compress:
			comp = append(comp, c)
		default:
			main = append(main, c)
		}
	}
	begin := time.Now()
	t.Run("cases", func(t *testing.T) {
		t.Run("long", func(t *testing.T) {
			t.Parallel()
			runCases(t, side, long)
		})
		t.Run("main", func(t *testing.T) {
			t.Parallel()
			runCases(t, plain, main)
			runCases(t, compress, comp)
		})
	})
	t.Logf("%d cases in %.1f s", len(long)+len(main)+len(comp), time.Since(begin).Seconds())
}

// runCases runs cases in order on srv, one subtest each.
func runCases(t *testing.T, srv *Target, cases []*Case) {
	r, err := NewRunner(srv, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			o := r.Run(c)
			t.Logf("[%s] %s (%.2f s)", c.Class, o.Result, o.Took.Seconds())
			if o.Result.Verdict != Pass {
				t.Errorf("%s: sent %s; want %s (%s); got %s", c.Name, c.Does, c.Want, c.RFC, o.Result)
			}
			for _, a := range o.After {
				t.Errorf("after %s: %s", c.Name, a)
			}
		})
	}
}
