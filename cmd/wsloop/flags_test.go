package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wsloop/wsloop/poller"
	"github.com/wsloop/wsloop/pubsub"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	f, err := parseFlags([]string{"-max-conns", "7"}, env(map[string]string{
		"WSLOOP_MAX_CONNS":     "99", // the command line wins
		"WSLOOP_COMPRESS":      "true",
		"WSLOOP_ORIGINS":       "https://a.example, *.b.example",
		"WSLOOP_SLOW_CONSUMER": "drop",
		"WSLOOP_PING_INTERVAL": "45s",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.maxConns != 7 || !f.compress || f.slowConsumer != "drop" || f.pingInterval != 45*time.Second {
		t.Errorf("got max-conns %d compress %v slow-consumer %q ping %v", f.maxConns, f.compress, f.slowConsumer, f.pingInterval)
	}
	if got := splitList(f.origins); len(got) != 2 || got[1] != "*.b.example" {
		t.Errorf("origins %q", got)
	}
	if _, err := f.options(nil); err != nil {
		t.Errorf("options: %v", err)
	}
}

// TestPubsubFlags checks the pubsub and feed flags, from the command line
// and the environment, and their defaults.
func TestPubsubFlags(t *testing.T) {
	f, err := parseFlags(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.mode != "echo" || f.history != pubsub.DefaultHistory || f.historyTTL != pubsub.DefaultHistoryTTL ||
		f.conflateAbove != poller.DefaultConflateAbove || f.feedSymbols != 50 || f.feedRate != 50 || f.nats != "" {
		t.Errorf("defaults: %+v", f)
	}
	f, err = parseFlags([]string{"-mode", "feed", "-feed-rate", "200"}, env(map[string]string{
		"WSLOOP_MODE":           "pubsub", // the command line wins
		"WSLOOP_NATS":           "nats://127.0.0.1:4222",
		"WSLOOP_HISTORY":        "10",
		"WSLOOP_HISTORY_TTL":    "30s",
		"WSLOOP_CONFLATE_ABOVE": "4096",
		"WSLOOP_FEED_SYMBOLS":   "7",
		"WSLOOP_FEED_RATE":      "1", // the command line wins
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.mode != "feed" || f.nats != "nats://127.0.0.1:4222" || f.history != 10 || f.historyTTL != 30*time.Second ||
		f.conflateAbove != 4096 || f.feedSymbols != 7 || f.feedRate != 200 {
		t.Errorf("got %+v", f)
	}
	if _, err := f.options(nil); err != nil {
		t.Errorf("options: %v", err)
	}
}

func TestFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"WSLOOP_MAX_CONNS": "many"}, "WSLOOP_MAX_CONNS"},
		{[]string{"-slow-consumer", "wait"}, nil, "-slow-consumer"},
		{[]string{"-forwarded-for"}, nil, "-trusted-proxies"},
		{[]string{"-trusted-proxies", "10.0.0.0/33"}, nil, "-trusted-proxies"},
		{[]string{"-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.key"}, nil, "-tls-cert"},
		{[]string{"-auth-tokens", "/nonexistent"}, nil, "-auth-tokens"},
		{[]string{"-mode", "chat"}, nil, "-mode"},
		{[]string{"-history", "-1"}, nil, "-history"},
		{nil, map[string]string{"WSLOOP_HISTORY_TTL": "-1s"}, "-history-ttl"},
		{[]string{"-conflate-above", "0"}, nil, "-conflate-above"},
		{[]string{"-feed-symbols", "0"}, nil, "-feed-symbols"},
		{[]string{"-feed-rate", "0"}, nil, "-feed-rate"},
		{[]string{"-feed-rate", "NaN"}, nil, "-feed-rate"},
	}
	for _, tc := range cases {
		f, err := parseFlags(tc.args, env(tc.env), io.Discard)
		if err == nil {
			_, err = f.options(nil)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: error %v, want one naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}

// TestUsageNamesOperatorFlags keeps the flag names operators' scripts rely
// on, and the environment mechanism, in `wsloop -h`.
func TestUsageNamesOperatorFlags(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, env(nil), &out); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	for _, name := range []string{"-compress", "-admin", "-tls-cert", "-tls-key", "-tls-addr", "-origins",
		"-max-conns", "-max-conns-per-ip", "-rate-msgs", "-max-outbound", "-slow-consumer", "-log-format", "WSLOOP_",
		"-mode", "pubsub", "feed", "-nats", "-history", "-history-ttl", "-conflate-above", "-feed-symbols", "-feed-rate",
		"/publish/{topic}"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("usage does not mention %s", name)
		}
	}
}
