package soak

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/wsloop/wsloop/bench/internal/scrape"
)

// server is a wsloop process: the -procs supervisor of the feed, or a
// single process (the netns edge). Start and stop it from one goroutine;
// workers and adminOf are safe from any.
type server struct {
	p         *process
	addr      string // host:port of the WebSocket listener
	adminHost string
	adminBase int // the supervisor's -admin port; worker slot i is adminBase+i
	procs     int // 0: a single process
}

// commonArgs are the flags every wsloop of the suite shares.
func commonArgs(cfg *Config, natsURL string) []string {
	return []string{
		"-nats", natsURL,
		"-history", strconv.Itoa(cfg.History), "-history-ttl", cfg.HistoryTTL.String(),
		"-ping-interval", cfg.PingInterval.String(), "-pong-timeout", cfg.PongTimeout.String(),
		"-max-outbound", strconv.Itoa(cfg.MaxOutbound), "-slow-consumer", "close",
		"-log-level", "warn",
	}
}

// startFeed runs `wsloop -procs N -mode feed` on loopback and waits until
// every worker serves its admin endpoint.
func startFeed(ctx context.Context, bin, dir string, cfg *Config, natsURL string) (*server, error) {
	port, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	admin, err := freePortRun("127.0.0.1", 2*cfg.Procs)
	if err != nil {
		return nil, err
	}
	s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port), adminHost: "127.0.0.1", adminBase: admin, procs: cfg.Procs}
	args := append([]string{
		"-procs", strconv.Itoa(cfg.Procs), "-mode", "feed", "-addr", s.addr,
		"-admin", fmt.Sprintf("127.0.0.1:%d", admin), "-status-interval", "0",
		"-feed-rate", fmt.Sprint(cfg.FeedRate), "-feed-symbols", strconv.Itoa(cfg.FeedSymbols),
	}, commonArgs(cfg, natsURL)...)
	if s.p, err = startProcess("wsloop", bin, filepath.Join(dir, "wsloop.log"), args...); err != nil {
		return nil, err
	}
	return s, s.waitReady(ctx)
}

// startEdge runs a single wsloop process in -mode pubsub on addr (joined
// to natsURL, so it serves the feed's topics).
func startEdge(ctx context.Context, bin, dir string, cfg *Config, natsURL, host string) (*server, error) {
	port, err := freePort(host)
	if err != nil {
		return nil, err
	}
	admin, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	s := &server{addr: net.JoinHostPort(host, strconv.Itoa(port)), adminHost: "127.0.0.1", adminBase: admin}
	args := append([]string{"-mode", "pubsub", "-addr", s.addr, "-admin", fmt.Sprintf("127.0.0.1:%d", admin)}, commonArgs(cfg, natsURL)...)
	if s.p, err = startProcess("wsloop-edge", bin, filepath.Join(dir, "wsloop-edge.log"), args...); err != nil {
		return nil, err
	}
	return s, s.waitReady(ctx)
}

// waitReady waits until every admin endpoint answers.
func (s *server) waitReady(ctx context.Context) error {
	n := max(1, s.procs)
	return waitFor(ctx, 60*time.Second, "wsloop ready", func() bool {
		if !s.p.Running() {
			return true
		}
		for i := range n {
			if _, err := scrape.Get(ctx, s.adminOf(i)); err != nil {
				return false
			}
		}
		return true
	})
}

// adminOf is the admin address of worker slot (the process itself when
// single).
func (s *server) adminOf(slot int) string {
	return net.JoinHostPort(s.adminHost, strconv.Itoa(s.adminBase+slot))
}

// workers maps each slot to its current worker pid (children of the
// supervisor, identified by their -admin port); a slot being restarted
// is absent. A single process is slot 0.
func (s *server) workers() map[int]int {
	out := map[int]int{}
	if !s.p.Running() {
		return out
	}
	if s.procs == 0 {
		out[0] = s.p.PID()
		return out
	}
	for _, pid := range procChildren(s.p.PID()) {
		a, ok := procArg(pid, "-admin")
		if !ok {
			continue
		}
		_, ps, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		port, _ := strconv.Atoi(ps)
		if slot := port - s.adminBase; slot >= 0 && slot < s.procs {
			out[slot] = pid
		}
	}
	return out
}

// stop drains the server (SIGTERM) for at most 20 s.
func (s *server) stop() {
	if s != nil && s.p != nil {
		s.p.Stop(syscall.SIGTERM, 20*time.Second)
	}
}
