// Command wssoak runs wsloop's soak and fault suite (package soak) and
// writes SOAK.md, the samples and the plots. `make soak` runs it for 10
// minutes; it exits 1 when a check fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wsloop/wsloop/bench/soak"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg := soak.Full()
	short := flag.Bool("short", false, "the two-minute CI configuration as the starting point")
	duration := flag.Duration("duration", 10*time.Minute, "target length of the whole run; the steady churn gets what the other phases leave (at least 1 minute)")
	out := flag.String("out", "results/soak", "directory of samples.csv, result.json and the plots")
	report := flag.String("report", "SOAK.md", "report path")
	phases := flag.String("phases", strings.Join(soak.AllPhases, ","), "faults to inject, comma-separated: "+strings.Join(soak.AllPhases, ","))
	subs := flag.Int("subscribers", 0, "subscribers (0: the configuration's)")
	rate := flag.Float64("churn-rate", 0, "churn connections per second (0: the configuration's)")
	churners := flag.Int("churners", 0, "churn goroutines (0: the configuration's)")
	feedRate := flag.Float64("feed-rate", 0, "feed updates per second (0: the configuration's)")
	procs := flag.Int("procs", 0, "wsloop worker processes, at least 2 (0: the configuration's)")
	dir := flag.String("dir", "", "working directory for binaries, logs and the NATS store (default: a temporary one, removed)")
	flag.Parse()
	if *short {
		cfg = soak.Short()
	}
	for _, kv := range []struct {
		set bool
		f   func()
	}{
		{*subs > 0, func() { cfg.Subscribers = *subs }},
		{*rate > 0, func() { cfg.ChurnRate = *rate }},
		{*churners > 0, func() { cfg.Churners = *churners }},
		{*feedRate > 0, func() { cfg.FeedRate = *feedRate }},
		{*procs > 0, func() { cfg.Procs = *procs }},
	} {
		if kv.set {
			kv.f()
		}
	}
	cfg.NewLink, cfg.LinkMissing = soak.DefaultLink()
	cfg.Phases = nil
	for _, p := range strings.Split(*phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Phases = append(cfg.Phases, p)
		}
	}
	durationSet := false
	flag.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if !*short || durationSet {
		cfg.Steady = max(time.Minute, *duration-soak.FixedTime(cfg))
	}
	cfg.Out, cfg.Report, cfg.Dir, cfg.Log = *out, *report, *dir, os.Stderr
	cfg.CommandLine = "wssoak " + strings.Join(os.Args[1:], " ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := soak.Run(ctx, cfg)
	if res != nil {
		for _, c := range res.Checks {
			mark := "ok  "
			switch {
			case c.Info:
				mark = "info"
			case !c.Pass:
				mark = "FAIL"
			}
			fmt.Printf("%s  %-9s %-42s %s\n", mark, c.Phase, c.Name, c.Value)
		}
		for _, s := range res.Skipped {
			fmt.Printf("skip  %s\n", s)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wssoak:", err)
		return 2
	}
	if res.Failed() {
		fmt.Fprintln(os.Stderr, "wssoak: checks failed; see", *report)
		return 1
	}
	fmt.Fprintln(os.Stderr, "wssoak: all checks passed; report in", *report)
	return 0
}
