package clientload

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/wsloop/wsloop/bench/loadgen"
)

// Kinds are the client libraries a Holder can hold, wsloop's own first.
var Kinds = []string{"wsloop", "gorilla", "coder"}

// MaxConns is the most connections one process may hold: the machine caps
// open files at 20,000 per process.
const MaxConns = 19000

// Config is what a Holder holds and how.
type Config struct {
	Kind             string        // one of Kinds
	URL              string        // ws://127.x.y.z:port/path
	Conns            int           // connections to open, at most MaxConns
	Src              string        // first source address (127.0.0.0/8)
	SrcCount         int           // source addresses used round-robin from Src
	Inflight         int           // dials in flight at once (default 256)
	DialTimeout      time.Duration // per dial: TCP connect and upgrade (default 10 s)
	Heartbeat        time.Duration // ping interval (default 10 s)
	HeartbeatTimeout time.Duration // added to 1.5·Heartbeat for the silence limit (default 10 s)
	SampleEvery      int           // sample every n-th dialed connection's TCP counters (default 1000)
}

func (c Config) withDefaults() (Config, error) {
	if !slices.Contains(Kinds, c.Kind) {
		return c, fmt.Errorf("clientload: kind %q: want one of %v", c.Kind, Kinds)
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "ws" {
		return c, fmt.Errorf("clientload: url %q: want ws://host:port/path", c.URL)
	}
	if _, err := loadgen.ParseLoopbackAddr(u.Host); err != nil {
		return c, err
	}
	if c.Conns < 0 || c.Conns > MaxConns {
		return c, fmt.Errorf("clientload: conns %d out of range [0, %d]", c.Conns, MaxConns)
	}
	if c.Src == "" {
		c.Src = "127.0.0.2"
	}
	if c.SrcCount == 0 {
		c.SrcCount = 1
	}
	if _, err := loadgen.SourceAddrs(c.Src, c.SrcCount); err != nil {
		return c, err
	}
	if c.Inflight == 0 {
		c.Inflight = 256
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 10 * time.Second
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = 1000
	}
	if c.Inflight < 1 || c.DialTimeout < 0 || c.Heartbeat < 0 || c.HeartbeatTimeout < 0 || c.SampleEvery < 1 {
		return c, errors.New("clientload: inflight and sample-every must be positive, durations not negative")
	}
	return c, nil
}

// silence is how long a connection may go without a frame before the
// heartbeat drops it: client/'s read deadline, used for the peers too.
func (c Config) silence() time.Duration { return c.Heartbeat*3/2 + c.HeartbeatTimeout }
