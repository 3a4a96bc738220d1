//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wsloop/wsloop/bench/clientload"
	"github.com/wsloop/wsloop/server"
)

// TestProtocol drives one run through standard input (CONNECT, MEASURE,
// end of input) against an in-process wsloop and checks every line.
func TestProtocol(t *testing.T) {
	srv := server.New(server.Echo())
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	var stdout, stderr bytes.Buffer
	args := []string{"-kind", "wsloop", "-url", "ws://" + srv.Addr() + "/", "-conns", "12", "-src", "127.0.0.3", "-src-count", "2", "-deadline", "30s"}
	if err := run(args, strings.NewReader("CONNECT\nMEASURE\nbogus\n"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v; stderr: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want BASE, READY, STATS, CLOSED; got %q", lines)
	}
	var base, stats clientload.Snapshot
	for i, want := range []string{"BASE ", "READY 12 0 ", "STATS ", "CLOSED true "} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want)
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[0], "BASE ")), &base); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[2], "STATS ")), &stats); err != nil {
		t.Fatal(err)
	}
	if base.Connected != 0 || stats.Connected != 12 || stats.Alive != 12 || stats.Goroutines < base.Goroutines+12 {
		t.Errorf("base %+v, stats %+v", base, stats)
	}
	if !strings.Contains(stderr.String(), `ignoring input line "bogus"`) {
		t.Errorf("stderr: %q", stderr.String())
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-deadline", "0s"},
		{"-hold", "-1s"},
		{"extra"},
	} {
		if _, _, err := parse(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parse(%q) accepted", args)
		}
	}
}
