//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClientsTiny runs the clients scenario through the real command path
// (build, servers, client processes, baseline, connect, hold, measure,
// close, table, JSON) with 300 connections of every client library over
// two client processes and two wsloop processes, a heartbeat fast enough
// to drop any connection whose pings go unanswered during the hold, and
// checks the counts only.
func TestClientsTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and client processes; skipped in -short mode")
	}
	const conns = 300
	jsonPath := filepath.Join(t.TempDir(), "clients.json")
	args := []string{"-scenario", "clients", "-clients", "wsloop,gorilla,coder", "-conns", "300",
		"-procs", "2", "-per-load", "150", "-no-sysctl", "-hold", "1500ms", "-heartbeat", "200ms", "-heartbeat-timeout", "200ms",
		"-rounds", "1", "-settle", "100ms", "-mem-floor", "256MiB", "-json", jsonPath,
		"-bin-dir", t.TempDir(), "-progress=false", "-warm-run=false"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("wsbench %s: %v", strings.Join(args, " "), err)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var sums []clientsSummary
	if err := json.Unmarshal(b, &sums); err != nil {
		t.Fatal(err)
	}
	if len(sums) != 3 {
		t.Fatalf("%d summaries, want 3", len(sums))
	}
	for _, s := range sums {
		if s.RoundsOK != 1 || len(s.Raw) != 1 {
			t.Errorf("%s: %d rounds ok, raw %+v", s.Kind, s.RoundsOK, s.Raw)
			continue
		}
		r := s.Raw[0]
		if r.ConnsOK != conns || r.Alive != conns || r.ConnectFailed != 0 || r.Ended != 0 || r.Reconnects != 0 || !r.ClosedAll {
			t.Errorf("%s: %+v", s.Kind, r)
		}
		if r.ClientProcs != 2 || r.ServerProcs != 2 || r.GoroutinesPerConn < 1 {
			t.Errorf("%s: %d client and %d server processes, %.2f goroutines/conn", s.Kind, r.ClientProcs, r.ServerProcs, r.GoroutinesPerConn)
		}
		if r.SampledConns == 0 || r.HoldBytesSentPerConn == 0 || r.HoldBytesRecvPerConn == 0 {
			t.Errorf("%s: no heartbeat traffic on the sampled connections: %+v", s.Kind, r)
		}
		if s.Kind != "wsloop" && s.Ratio["client_rss_bytes_per_conn"] == 0 {
			t.Errorf("%s: no ratio to wsloop: %v", s.Kind, s.Ratio)
		}
	}
	if !strings.Contains(stdout.String(), "coder") || !strings.Contains(stdout.String(), "×)") {
		t.Errorf("table lacks a row or its ratios")
	}
}

func TestClientsFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-scenario", "clients", "-clients", "wsloop,nope"},
		{"-scenario", "clients", "-clients", "wsloop,wsloop"},
		{"-scenario", "clients", "-servers", "gorilla"},
		{"-scenario", "clients,idle"},
		{"-scenario", "clients", "-heartbeat", "0s"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	cfg, err := parseFlags([]string{"-scenario", "clients", "-hold", "10s"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientsSpec(cfg); err == nil {
		t.Error("a 10 s hold with the default 10 s/10 s heartbeat (25 s silence limit) was accepted")
	}
}
