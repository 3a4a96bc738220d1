package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// natsServer is a nats-server process with JetStream on a fixed loopback
// port and store directory, so that a restart serves the same streams at
// the same URL. One goroutine drives it (start, stop); pid is safe from
// any (the sampler's).
type natsServer struct {
	bin, store, log string
	port, monitor   int
	p               atomic.Pointer[process]
}

func newNATS(bin, dir string) (*natsServer, error) {
	port, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	monitor, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	return &natsServer{bin: bin, store: filepath.Join(dir, "nats-store"), log: filepath.Join(dir, "nats.log"), port: port, monitor: monitor}, nil
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// start runs the server and waits until it accepts connections.
func (n *natsServer) start(ctx context.Context) error {
	p, err := startProcess("nats-server", n.bin, n.log, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-m", strconv.Itoa(n.monitor), "-js", "-sd", n.store)
	if err != nil {
		return err
	}
	n.p.Store(p)
	return waitFor(ctx, 20*time.Second, "nats-server listening", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.port), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// stop ends the server gracefully (SIGTERM; SIGKILL after 10 s).
func (n *natsServer) stop() {
	if p := n.p.Load(); p != nil {
		p.Stop(syscall.SIGTERM, 10*time.Second)
	}
}

func (n *natsServer) pid() int {
	p := n.p.Load()
	if p == nil || !p.Running() {
		return 0
	}
	return p.PID()
}

// consumers returns how many JetStream consumers the server holds (its
// monitoring endpoint /jsz).
func (n *natsServer) consumers(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/jsz", n.monitor), nil)
	if err != nil {
		return 0, err
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var jsz struct {
		Consumers int `json:"consumers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return 0, err
	}
	return jsz.Consumers, nil
}
