// Command wshostile runs the hostile suite (package bench/hostile) against
// wsloop and the reference servers and writes HOSTILE.md: each case's RFC
// answer and what each server did. `make hostile` runs it. With -check it
// exits 1 when wsloop fails a case (the references are for comparison
// only); `make test` checks wsloop through the package's tests instead.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/wsloop/wsloop/bench/hostile"
)

func main() {
	os.Exit(run())
}

func run() int {
	servers := flag.String("servers", strings.Join(hostile.Servers, ","), "servers to run, comma-separated: "+strings.Join(hostile.Servers, ","))
	out := flag.String("out", "HOSTILE.md", "report path (empty: none)")
	only := flag.String("run", "", "run only the cases whose name matches this regexp")
	verbose := flag.Bool("v", false, "log each case as it ends")
	check := flag.Bool("check", false, "exit 1 when wsloop fails a case")
	flag.Parse()

	var names []string
	for _, s := range strings.Split(*servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			names = append(names, s)
		}
	}
	cases := hostile.All()
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wshostile: -run:", err)
			return 2
		}
		var keep []*hostile.Case
		for _, c := range cases {
			if re.MatchString(c.Name) {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	dir, err := os.MkdirTemp("", "wshostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "wshostile:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins, err := hostile.Build(dir, names)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wshostile:", err)
		return 1
	}

	rep := &hostile.Report{
		Servers: names, Cases: cases, Started: time.Now(),
		Outcomes: map[string]map[string]hostile.Outcome{}, Versions: map[string]string{},
		Command: "go run ./cmd/wshostile " + strings.Join(os.Args[1:], " "),
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	failed := 0
	for _, name := range names {
		rep.Versions[name] = hostile.Describe(name)
		in, err := hostile.StartInstances(name, bins)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wshostile:", err)
			return 1
		}
		start := time.Now()
		res, err := hostile.RunAll(in, cases, logf, func(o hostile.Outcome) {
			if *verbose {
				logf("%-10s %-12s %-45s %s (%.2f s)", name, o.Case.Class, o.Case.Name, o.Cell(), o.Took.Seconds())
			}
		})
		in.Stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "wshostile:", err)
			return 1
		}
		rep.Outcomes[name] = res
		n := map[hostile.Verdict]int{}
		for _, o := range res {
			n[o.Cell().Verdict]++
		}
		logf("%s: %d cases in %.0f s: %d pass, %d stricter, %d looser, %d other", name, len(res), time.Since(start).Seconds(),
			n[hostile.Pass], n[hostile.Stricter], n[hostile.Looser], n[hostile.Other])
		if name == hostile.Wsloop {
			failed = len(res) - n[hostile.Pass]
		}
	}
	rep.Took = time.Since(rep.Started)
	if *out != "" {
		f, err := os.Create(*out)
		if err == nil {
			err = rep.WriteMarkdown(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "wshostile:", err)
			return 1
		}
		logf("wrote %s", *out)
	}
	if failed > 0 {
		logf("wsloop: %d cases without the RFC answer", failed)
		if *check {
			return 1
		}
	}
	return 0
}
