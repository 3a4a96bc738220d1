package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// MaxConns is the most connections one process may open: the machine allows
// 20,000 open files per process and that limit cannot be raised.
const MaxConns = 19000

// Modes.
const (
	ModeIdle   = "idle"
	ModeEcho   = "echo"
	ModeFanout = "fanout"
)

// MaxTopics is the most topics one fan-out connection subscribes to.
const MaxTopics = 1000

// Window is the measurement of a fan-out run, in wall-clock time (the
// publisher, another process, stamps publications with Unix nanoseconds).
// Publications received in [MeasureStart, MeasureEnd) count as deliveries
// of the window; publications published in it give the latencies.
type Window struct {
	MeasureStart, MeasureEnd time.Time
}

// minSize is the smallest echo message: the payload carries its send time.
const minSize = 8

// Config describes one run. Zero values take the defaults noted.
type Config struct {
	Addr string // server host:port; the host must be in 127.0.0.0/8 (or "localhost")
	Path string // request target; default "/"

	Conns           int           // connections to open, 1..MaxConns
	Src             string        // first source address; default 127.0.0.2
	SrcCount        int           // source addresses used round-robin; default ceil(Conns/20000)+1
	ConnectInflight int           // connects (and upgrades) in flight at once; default 512
	ConnectTimeout  time.Duration // per connection, connect plus upgrade; default 10s

	Mode     string        // ModeIdle, ModeEcho or ModeFanout; default idle
	Size     int           // echo message payload bytes (>= 8); default 1024
	Rate     float64       // echo: total messages per second; 0 = closed loop
	Inflight int           // echo closed loop: messages outstanding per connection; default 1
	Warmup   time.Duration // echo: unrecorded time before measuring; default 1s (negative: none)
	Duration time.Duration // echo: measured time; default 10s
	Drain    time.Duration // echo: how long to wait for replies after sending stops; default 2s
	Hold     time.Duration // idle: how long to hold the connections; default 30s (negative: none). fanout: longest wait from Ready to the end of the window's drain; default 2m
	// Extensions, idle mode only, is offered as Sec-WebSocket-Extensions
	// (e.g. "permessage-deflate"): what a negotiated extension costs an
	// idle connection. Echo mode does not decode extension frames.
	Extensions string
	// Subprotocol, if set, is offered as Sec-WebSocket-Protocol.
	Subprotocol string

	// Topics (fanout) are subscribed to by every connection right after
	// its upgrade, with the wire protocol's JSON subscribe request; a
	// connection counts as connected once every topic has been answered
	// with {"op":"subscribed",...}. Publications carry their topic's index
	// in this list (see AppendPayload).
	Topics []string
	// Schedule (fanout) delivers the measurement window once, after Ready;
	// Stop then delivers when to stop listening (once the publisher is
	// done and the publications had time to arrive). Hold bounds both
	// waits.
	Schedule <-chan Window
	Stop     <-chan time.Time
	// PollInterval (fanout): after handling fewer events than one wait
	// can return, sleep this long before waiting again, so that one
	// wake-up reads many connections (context switches are what a
	// subscriber process spends most on; see BENCHMARKS.md). It adds up
	// to this much to the measured latencies. Default 1ms; negative: none.
	PollInterval time.Duration

	Loops    int           // epoll loops (goroutines); default GOMAXPROCS, at most Conns
	Deadline time.Duration // hard cap on the whole run; default derived from the others

	// Log, if set, receives summaries of connect failures and errors. It
	// is called from Run's goroutine only.
	Log func(msg string)

	// Ready, if set, is called once when every connection has upgraded or
	// failed, before the hold (idle) or the traffic (echo) starts.
	Ready func(connected, failed int, connectSeconds float64)
}

// normalize fills defaults and checks the configuration.
func (c Config) normalize() (Config, error) {
	if c.Path == "" {
		c.Path = "/"
	}
	if !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, " \r\n") {
		return c, fmt.Errorf("loadgen: bad path %q", c.Path)
	}
	if strings.ContainsAny(c.Extensions, "\r\n") || strings.ContainsAny(c.Subprotocol, "\r\n") {
		return c, fmt.Errorf("loadgen: bad extensions %q or subprotocol %q", c.Extensions, c.Subprotocol)
	}
	if c.Extensions != "" && c.Mode == ModeEcho {
		return c, fmt.Errorf("loadgen: extensions are for idle mode only")
	}
	if _, err := ParseLoopbackAddr(c.Addr); err != nil {
		return c, err
	}
	if c.Conns < 1 || c.Conns > MaxConns {
		return c, fmt.Errorf("loadgen: conns %d out of range [1, %d] (the per-process open-files limit is 20000)", c.Conns, MaxConns)
	}
	if c.Src == "" {
		c.Src = "127.0.0.2"
	}
	if c.SrcCount == 0 {
		c.SrcCount = (c.Conns+19999)/20000 + 1
	}
	if c.SrcCount < 1 {
		return c, fmt.Errorf("loadgen: src-count %d < 1", c.SrcCount)
	}
	if _, err := SourceAddrs(c.Src, c.SrcCount); err != nil {
		return c, err
	}
	if c.ConnectInflight == 0 {
		c.ConnectInflight = 512
	}
	if c.ConnectInflight < 1 {
		return c, errors.New("loadgen: connect-inflight must be at least 1")
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.ConnectTimeout < 0 {
		return c, errors.New("loadgen: negative connect-timeout")
	}
	if c.Mode == "" {
		c.Mode = ModeIdle
	}
	switch c.Mode {
	case ModeIdle:
		if c.Hold == 0 {
			c.Hold = 30 * time.Second
		}
		c.Hold = max(c.Hold, 0)
	case ModeEcho:
		if c.Size == 0 {
			c.Size = 1024
		}
		if c.Size < minSize || c.Size > 16<<20 {
			return c, fmt.Errorf("loadgen: size %d out of range [%d, %d] (the payload carries its send time)", c.Size, minSize, 16<<20)
		}
		if c.Rate < 0 {
			return c, errors.New("loadgen: negative rate")
		}
		if c.Rate > 10_000_000 {
			return c, fmt.Errorf("loadgen: rate %.0f too high", c.Rate)
		}
		if c.Inflight == 0 {
			c.Inflight = 1
		}
		if c.Inflight < 1 || c.Inflight > 1024 {
			return c, fmt.Errorf("loadgen: inflight %d out of range [1, 1024]", c.Inflight)
		}
		if c.Warmup == 0 {
			c.Warmup = time.Second
		}
		c.Warmup = max(c.Warmup, 0)
		if c.Duration == 0 {
			c.Duration = 10 * time.Second
		}
		if c.Duration < 0 {
			return c, errors.New("loadgen: negative duration")
		}
		if c.Drain == 0 {
			c.Drain = 2 * time.Second
		}
		c.Drain = max(c.Drain, 0)
	case ModeFanout:
		if len(c.Topics) < 1 || len(c.Topics) > MaxTopics {
			return c, fmt.Errorf("loadgen: %d topics, want 1 to %d", len(c.Topics), MaxTopics)
		}
		for _, tp := range c.Topics {
			if tp == "" || len(tp) > 255 || strings.ContainsAny(tp, "\"\\ *>") || strings.ContainsFunc(tp, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return c, fmt.Errorf("loadgen: bad topic %q", tp)
			}
		}
		if c.Schedule == nil || c.Stop == nil {
			return c, errors.New("loadgen: fanout needs a Schedule and a Stop")
		}
		if c.Hold == 0 {
			c.Hold = 2 * time.Minute
		}
		if c.Hold < 0 {
			return c, errors.New("loadgen: negative hold")
		}
		if c.PollInterval == 0 {
			c.PollInterval = time.Millisecond
		}
		if c.PollInterval > 100*time.Millisecond {
			return c, errors.New("loadgen: poll interval above 100ms")
		}
	default:
		return c, fmt.Errorf("loadgen: unknown mode %q (want idle, echo or fanout)", c.Mode)
	}
	if c.Loops < 0 {
		return c, errors.New("loadgen: negative loops")
	}
	if c.Deadline < 0 {
		return c, errors.New("loadgen: negative deadline")
	}
	if c.Deadline == 0 {
		// Warmup, Duration and Drain are zero outside echo mode.
		c.Deadline = c.connectPhaseCap() + c.Warmup + c.Duration + c.Drain + c.Hold + 30*time.Second
	}
	return c, nil
}

// connectPhaseCap bounds the connect phase: connections not resolved by then
// count as failed.
func (c Config) connectPhaseCap() time.Duration {
	waves := (c.Conns + c.ConnectInflight - 1) / c.ConnectInflight
	d := time.Duration(waves) * c.ConnectTimeout
	return min(max(d, 2*c.ConnectTimeout), max(120*time.Second, 2*c.ConnectTimeout))
}

// ParseLoopbackAddr parses host:port and refuses any host outside
// 127.0.0.0/8 ("localhost" means 127.0.0.1).
func ParseLoopbackAddr(addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("loadgen: addr %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() || ip.As4()[0] != 127 {
		return netip.AddrPort{}, fmt.Errorf("loadgen: refusing target %q: only 127.0.0.0/8 is allowed", addr)
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(ip.String(), port))
	if err != nil || ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("loadgen: addr %q: bad port", addr)
	}
	return ap, nil
}

// SourceAddrs returns count consecutive IPv4 addresses starting at first, all
// of which must lie in 127.0.0.0/8.
func SourceAddrs(first string, count int) ([][4]byte, error) {
	ip, err := netip.ParseAddr(first)
	if err != nil || !ip.Is4() || ip.As4()[0] != 127 {
		return nil, fmt.Errorf("loadgen: source %q is not an address in 127.0.0.0/8", first)
	}
	if count < 1 || count > 1<<20 {
		return nil, fmt.Errorf("loadgen: src-count %d out of range", count)
	}
	b := ip.As4()
	u := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	last := u + uint32(count) - 1
	if last>>24 != 127 {
		return nil, fmt.Errorf("loadgen: %d source addresses from %s leave 127.0.0.0/8", count, first)
	}
	out := make([][4]byte, count)
	for i := range out {
		v := u + uint32(i)
		out[i] = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	return out, nil
}
