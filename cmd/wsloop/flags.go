package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"github.com/wsloop/wsloop/codec"
	"github.com/wsloop/wsloop/feed"
	"github.com/wsloop/wsloop/internal/clientaddr"
	"github.com/wsloop/wsloop/poller"
	"github.com/wsloop/wsloop/pubsub"
	"github.com/wsloop/wsloop/server"
)

// envPrefix names the environment variables that set flags.
const envPrefix = "WSLOOP_"

// flags is the command line, after the environment filled what it left
// unset.
type flags struct {
	addr, mode, logFormat, logLevel, admin string

	loops, workers, mailbox, maxHead, readBufferCap int
	handlers                                        string
	maxQueued, maxMsg, memLimit                     int64
	gogc                                            int

	handshakeTO, idleTO, pingInterval, pongTimeout, closeTimeout, drainTimeout, keepAlive time.Duration
	goingAway                                                                             string

	reusePort, trimMemory bool

	compress                   bool
	compressLevel, compressMin int
	subprotocols, origins      string
	authTokens                 string

	maxConns, maxConnsPerIP int
	upgradeRate             float64
	rateMsgs, rateBytes     float64
	rateBurst               float64
	maxOutbound             int
	slowConsumer            string

	tlsCert, tlsKey, tlsAddr string

	trustedProxies            string
	proxyProtocol, forwardFor bool
	healthPath                string

	nats          string
	history       int
	historyTTL    time.Duration
	conflateAbove int
	feedSymbols   int
	feedRate      float64

	jwtSecretFile, jwtKeyFile, jwtJWKSURL, jwtAudience, jwtIssuer string
	jwtRefresh, jwtLeeway                                         time.Duration
	maxConnsPerUser                                               int

	procs          int
	statusInterval time.Duration
}

// parseFlags parses args; a flag not on the command line takes its value
// from the environment variable WSLOOP_<NAME> when that is set.
// Usage and parse errors go to out.
func parseFlags(args []string, lookupEnv func(string) (string, bool), out io.Writer) (*flags, error) {
	f := new(flags)
	fs := flag.NewFlagSet("wsloop", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address host:port (ws://)")
	fs.StringVar(&f.mode, "mode", "echo", "what to serve: echo (every message back), pubsub (topics over the wsloop.json/wsloop.bin protocol) or feed (pubsub plus a synthetic market feed on md.all and md.<SYMBOL>, and its live page at http://ADDR/)")
	fs.IntVar(&f.loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&f.workers, "workers", 0, "handler worker goroutines (0: 4 per CPU)")
	fs.StringVar(&f.handlers, "handlers", "", "where handlers run: inline (on the event loops; echo's default) or pool (on the workers; pubsub's and feed's)")
	fs.IntVar(&f.mailbox, "mailbox", poller.DefaultMailboxSize, "messages queued per connection before its input pauses")
	fs.Int64Var(&f.maxQueued, "max-queued-bytes", poller.DefaultMaxQueuedBytes, "bytes queued for handlers on all connections")
	fs.Int64Var(&f.maxMsg, "max-message-size", poller.DefaultMaxMessageSize, "largest message accepted, bytes, after decompression (1009 past it)")
	fs.IntVar(&f.maxHead, "max-head-size", codec.DefaultMaxHeadSize, "largest HTTP request head, bytes (431 past it)")
	fs.DurationVar(&f.handshakeTO, "handshake-timeout", poller.DefaultHandshakeTimeout, "time allowed to complete the upgrade")
	fs.DurationVar(&f.idleTO, "idle-timeout", 0, "close connections silent this long (0: off)")
	fs.DurationVar(&f.pingInterval, "ping-interval", poller.DefaultPingInterval, "ping connections silent this long (negative: off)")
	fs.DurationVar(&f.keepAlive, "keepalive", 0, "TCP keepalive: the kernel probes connections silent this long and resets dead ones, with no work in the process (0: off; with -ping-interval -1, the heartbeat for a million connections)")
	fs.DurationVar(&f.pongTimeout, "pong-timeout", poller.DefaultPongTimeout, "wait this long after a ping before closing with 1011")
	fs.DurationVar(&f.closeTimeout, "close-timeout", poller.DefaultCloseTimeout, "wait this long for the peer's close frame")
	fs.BoolVar(&f.reusePort, "reuseport", false, "SO_REUSEPORT: several processes share the port")
	fs.StringVar(&f.goingAway, "going-away-reason", "", "reason of the 1001 Going Away sent on drain (empty: \""+poller.DefaultGoingAwayReason+"\", or \""+supervisedGoingAway+"\" in a -procs worker)")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 10*time.Second, "how long shutdown waits for connections to close")
	fs.IntVar(&f.procs, "procs", 0, "run this many worker processes on -addr with SO_REUSEPORT under a supervisor that restarts them and rolls them over on SIGHUP (0 or 1: this process serves); pubsub/feed need -nats; worker i's -admin port is PORT+i (PORT+N+i in odd generations)")
	fs.DurationVar(&f.statusInterval, "status-interval", 10*time.Second, "-procs: how often the supervisor logs each worker's connections (also on SIGUSR1; 0: only then)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.IntVar(&f.readBufferCap, "read-buffer", poller.DefaultReadBufferCap, "bytes read per event per loop, and decoded for one connection per loop round")
	fs.BoolVar(&f.trimMemory, "trim-memory", true, "return free heap to the OS after connection storms")
	fs.IntVar(&f.gogc, "gogc", 0, "Go GC target percentage, as GOGC (0: leave the runtime's setting; negative: GC off)")
	fs.Int64Var(&f.memLimit, "memory-limit", 0, "Go soft memory limit in bytes, as GOMEMLIMIT (0: leave the runtime's setting)")
	fs.StringVar(&f.admin, "admin", "", "serve /metrics (Prometheus) and /debug/pprof on this address, e.g. 127.0.0.1:9090, and in -mode pubsub or feed POST /publish/{topic} (keep it private)")

	fs.BoolVar(&f.compress, "compress", false, "enable permessage-deflate (RFC 7692) for clients that offer it")
	fs.IntVar(&f.compressLevel, "compress-level", 1, "flate level of outgoing messages, 1 (fastest) to 9")
	fs.IntVar(&f.compressMin, "compress-min", poller.DefaultCompressMin, "send messages shorter than this uncompressed (negative: compress all)")
	fs.StringVar(&f.subprotocols, "subprotocols", "", "comma-separated subprotocols the server speaks (Sec-WebSocket-Protocol)")
	fs.StringVar(&f.origins, "origins", "", "comma-separated Origin allowlist: https://app.example.com, example.com, *.example.com (403 otherwise; empty: any)")
	fs.StringVar(&f.authTokens, "auth-tokens", "", "file of accepted bearer tokens, one per line as 'token [identity]'; clients send Authorization: Bearer <token> or ?token=<token> (401 otherwise)")
	fs.IntVar(&f.maxConns, "max-conns", 0, "most connections held; 503 with Retry-After past it (0: no limit)")
	fs.IntVar(&f.maxConnsPerIP, "max-conns-per-ip", 0, "most connections per client IP; 429 past it (0: no limit)")
	fs.Float64Var(&f.upgradeRate, "upgrade-rate", 0, "most upgrades accepted per second, server-wide; 503 past it (0: no limit)")
	fs.Float64Var(&f.rateMsgs, "rate-msgs", 0, "most messages per second per connection; 1008 past it (0: no limit)")
	fs.Float64Var(&f.rateBytes, "rate-bytes", 0, "most payload bytes per second per connection; 1008 past it (0: no limit)")
	fs.Float64Var(&f.rateBurst, "rate-burst", 1, "seconds' worth of -rate-msgs/-rate-bytes a quiet connection may send at once")
	fs.IntVar(&f.maxOutbound, "max-outbound", poller.DefaultMaxOutbound, "bytes queued for one slow peer before -slow-consumer applies (negative: no cap)")
	fs.StringVar(&f.slowConsumer, "slow-consumer", "close", "what to do past -max-outbound: close (1008 \"slow consumer\") or drop (the message, counted)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate (chain) for wss; with -tls-key, enables the TLS listener")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key for -tls-cert")
	fs.StringVar(&f.tlsAddr, "tls-addr", "127.0.0.1:8443", "listen address of the wss (TLS) listener")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated proxy addresses or CIDRs whose PROXY headers / X-Forwarded-For are believed")
	fs.BoolVar(&f.proxyProtocol, "proxy-protocol", false, "expect a PROXY protocol v1/v2 header from -trusted-proxies (haproxy send-proxy[-v2], nginx proxy_protocol)")
	fs.BoolVar(&f.forwardFor, "forwarded-for", false, "take the client address from X-Forwarded-For on upgrades from -trusted-proxies")
	fs.StringVar(&f.healthPath, "health-path", "/healthz", "health check path on the WebSocket port: 200 serving, 503 draining (\"-\": off)")
	fs.StringVar(&f.nats, "nats", "", "pubsub/feed: carry topics through this NATS server (JetStream), e.g. nats://127.0.0.1:4222, so several wsloop processes serve one set of topics (empty: in-process)")
	fs.IntVar(&f.history, "history", pubsub.DefaultHistory, "pubsub/feed: messages kept per topic for clients that resubscribe with \"since\" (0: none)")
	fs.DurationVar(&f.historyTTL, "history-ttl", pubsub.DefaultHistoryTTL, "pubsub/feed: and none older than this (0: no age limit)")
	fs.IntVar(&f.conflateAbove, "conflate-above", poller.DefaultConflateAbove, "pubsub/feed: bytes unsent to a conflating subscriber past which it gets only the latest message per key")
	fs.IntVar(&f.feedSymbols, "feed-symbols", feed.DefaultSymbols, "feed: symbols with random-walk prices")
	fs.Float64Var(&f.feedRate, "feed-rate", feed.DefaultRate, "feed: updates per second, all symbols together")
	fs.StringVar(&f.jwtSecretFile, "jwt-secret-file", "", "pubsub/feed: entitlements: verify HS256 connection tokens with the secret in this file (32 bytes or more; trailing newline ignored)")
	fs.StringVar(&f.jwtKeyFile, "jwt-key-file", "", "pubsub/feed: entitlements: verify RS256/ES256 connection tokens with the public keys in this file (PEM or JWK Set)")
	fs.StringVar(&f.jwtJWKSURL, "jwt-jwks-url", "", "pubsub/feed: entitlements: verify connection tokens with the JWK Set at this URL, refreshed every -jwt-refresh and on an unknown key id")
	fs.DurationVar(&f.jwtRefresh, "jwt-refresh", 10*time.Minute, "pubsub/feed: how often -jwt-jwks-url is fetched again")
	fs.StringVar(&f.jwtAudience, "jwt-audience", "", "pubsub/feed: tokens must name this audience (\"aud\"); empty: not checked")
	fs.StringVar(&f.jwtIssuer, "jwt-issuer", "", "pubsub/feed: tokens must come from this issuer (\"iss\"); empty: not checked")
	fs.DurationVar(&f.jwtLeeway, "jwt-leeway", 5*time.Second, "pubsub/feed: clock skew allowed on a token's exp and nbf")
	fs.IntVar(&f.maxConnsPerUser, "max-conns-per-user", 0, "pubsub/feed with tokens: most connections per user (\"sub\"), 429 past it (0: no limit)")

	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: wsloop [flags]\n\nA WebSocket server for very many connections. Every flag can also be set\nwith an environment variable %s<FLAG> (upper case, '-' as '_'),\ne.g. %sMAX_CONNS=10000; the command line wins.\n\nIn -mode pubsub and feed, -admin also serves POST /publish/{topic}.\n\nFlags:\n", envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := make(map[string]bool)
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var errs []error
	fs.VisitAll(func(fl *flag.Flag) {
		if set[fl.Name] {
			return
		}
		name := envName(fl.Name)
		if v, ok := lookupEnv(name); ok {
			if err := fs.Set(fl.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	return f, errors.Join(errs...)
}

// envName is the environment variable for a flag: "max-conns" is
// WSLOOP_MAX_CONNS.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// maxFeedSymbols bounds -feed-symbols.
const maxFeedSymbols = 100_000

// pubsub reports whether the mode serves the pubsub wire protocol.
func (f *flags) pubsub() bool { return f.mode == "pubsub" || f.mode == "feed" }

// check validates the mode and the pubsub and feed flags.
func (f *flags) check() error {
	switch {
	case f.mode != "echo" && !f.pubsub():
		return fmt.Errorf("unknown -mode %q (want echo, pubsub or feed)", f.mode)
	}
	switch f.handlers {
	case "":
		f.handlers = "pool"
		if f.mode == "echo" {
			f.handlers = "inline"
		}
	case "inline", "pool":
	default:
		return fmt.Errorf("unknown -handlers %q (want inline or pool)", f.handlers)
	}
	switch {
	case f.history < 0:
		return fmt.Errorf("-history %d: want 0 or more", f.history)
	case f.historyTTL < 0:
		return fmt.Errorf("-history-ttl %v: want 0 or more", f.historyTTL)
	case f.conflateAbove <= 0:
		return fmt.Errorf("-conflate-above %d: want a positive byte count", f.conflateAbove)
	case f.feedSymbols < 1 || f.feedSymbols > maxFeedSymbols:
		return fmt.Errorf("-feed-symbols %d: want 1 to %d", f.feedSymbols, maxFeedSymbols)
	case !(f.feedRate > 0) || math.IsInf(f.feedRate, 0):
		return fmt.Errorf("-feed-rate %v: want a positive number of updates per second", f.feedRate)
	case f.entitled() && !f.pubsub():
		return errors.New("-jwt-secret-file, -jwt-key-file and -jwt-jwks-url are for -mode pubsub or feed")
	case f.entitled() && f.authTokens != "":
		return errors.New("-auth-tokens and -jwt-*: choose one way to authenticate")
	case f.maxConnsPerUser < 0 || f.maxConnsPerUser > 0 && !f.entitled():
		return errors.New("-max-conns-per-user needs -jwt-secret-file, -jwt-key-file or -jwt-jwks-url, and 0 or more")
	}
	return nil
}

// entitled reports whether connection tokens are checked (-jwt-*).
func (f *flags) entitled() bool {
	return f.jwtSecretFile != "" || f.jwtKeyFile != "" || f.jwtJWKSURL != ""
}

// options turns the flags into server options.
func (f *flags) options(logger *slog.Logger) ([]server.Option, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	opts := []server.Option{
		server.WithEventLoops(f.loops),
		server.WithWorkers(f.workers),
		server.WithMailboxSize(f.mailbox),
		server.WithMaxQueuedBytes(f.maxQueued),
		server.WithMaxMessageSize(f.maxMsg),
		server.WithMaxRequestHeadSize(f.maxHead),
		server.WithHandshakeTimeout(f.handshakeTO),
		server.WithIdleTimeout(f.idleTO),
		server.WithPingInterval(f.pingInterval),
		server.WithPongTimeout(f.pongTimeout),
		server.WithKeepAlive(f.keepAlive),
		server.WithCloseTimeout(f.closeTimeout),
		server.WithGoingAwayReason(f.goingAway),
		server.WithReusePort(f.reusePort),
		server.WithReadBufferCap(f.readBufferCap),
		server.WithMemoryTrim(f.trimMemory),
		server.WithLogger(logger),
		server.WithMaxConns(f.maxConns),
		server.WithMaxConnsPerIP(f.maxConnsPerIP),
		server.WithUpgradeRate(f.upgradeRate, 0),
		server.WithInboundRate(f.rateMsgs, f.rateBytes, f.rateBurst),
		server.WithHealthPath(f.healthPath),
	}
	if f.handlers == "inline" {
		opts = append(opts, server.WithInlineHandlers())
	}
	if f.compress {
		opts = append(opts, server.WithCompression(f.compressLevel, f.compressMin))
	}
	list := splitList(f.subprotocols)
	if f.pubsub() {
		list = append([]string{pubsub.SubprotocolJSON, pubsub.SubprotocolBinary}, list...)
		opts = append(opts, server.WithConflateAbove(f.conflateAbove))
	}
	if len(list) > 0 {
		opts = append(opts, server.WithSubprotocols(list...))
	}
	if list := splitList(f.origins); len(list) > 0 {
		opts = append(opts, server.WithOrigins(list...))
	}
	var policy server.SlowConsumerPolicy
	switch f.slowConsumer {
	case "close":
		policy = server.SlowClose
	case "drop":
		policy = server.SlowDrop
	default:
		return nil, fmt.Errorf("-slow-consumer %q: want close or drop", f.slowConsumer)
	}
	opts = append(opts, server.WithMaxOutbound(f.maxOutbound, policy))
	if f.tlsCert != "" || f.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		opts = append(opts, server.WithTLS(f.tlsAddr, cfg))
	}
	if f.trustedProxies != "" {
		trusted, err := clientaddr.ParseTrustedProxies(f.trustedProxies)
		if err != nil {
			return nil, fmt.Errorf("-trusted-proxies: %w", err)
		}
		opts = append(opts, server.WithTrustedProxies(trusted...),
			server.WithProxyProtocol(f.proxyProtocol), server.WithForwardedFor(f.forwardFor))
	} else if f.proxyProtocol || f.forwardFor {
		return nil, errors.New("-proxy-protocol and -forwarded-for need -trusted-proxies")
	}
	if f.authTokens != "" {
		auth, err := tokenAuth(f.authTokens)
		if err != nil {
			return nil, fmt.Errorf("-auth-tokens: %w", err)
		}
		opts = append(opts, server.WithAuth(auth))
	}
	return opts, nil
}

// tokenAuth reads a token file and returns an auth hook accepting those
// tokens, from "Authorization: Bearer <token>" or a "token" query
// parameter, and attaching the token's identity (the token itself when
// the line names none).
func tokenAuth(path string) (server.AuthFunc, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	tokens := make(map[string]string)
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		token, id, _ := strings.Cut(line, " ")
		if id = strings.TrimSpace(id); id == "" {
			id = token
		}
		tokens[token] = id
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, errors.New("no tokens in file")
	}
	return func(req *server.Request, _ net.Addr) (any, error) {
		token, ok := strings.CutPrefix(req.Header("Authorization"), "Bearer ")
		if !ok {
			token = req.Query().Get("token")
		}
		if id, ok := tokens[strings.TrimSpace(token)]; ok && token != "" {
			return id, nil
		}
		return nil, server.Reject(401, "missing or unknown token")
	}, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}
