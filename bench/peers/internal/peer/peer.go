// Package peer holds what every peer server in bench/peers shares: the
// command-line contract (-addr, -reuseport, -max-message, -mode, -admin),
// the listener (with
// SO_REUSEPORT when asked), the single "listening <addr>" line on stdout, and
// the wait for SIGINT/SIGTERM. It holds nothing about WebSocket itself, so
// that each peer uses its library the way the library intends.
package peer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config is the common command-line contract of every peer server.
type Config struct {
	Addr       string // -addr: host:port to listen on
	ReusePort  bool   // -reuseport: set SO_REUSEPORT on the listening socket
	MaxMessage int    // -max-message: largest message accepted, in bytes
	Mode       string // -mode: "echo" (default) or "pubsub" (topics; see package topics)
	Admin      string // -admin: host:port of the publish endpoint (pubsub mode)
}

// Modes.
const (
	ModeEcho   = "echo"
	ModePubSub = "pubsub"
)

// DefaultMaxMessage is the default -max-message: 16 MiB.
const DefaultMaxMessage = 16 << 20

// ParseFlags parses the process's command line into a Config. name is the
// peer's name, used in log prefixes and usage output.
func ParseFlags(name string) Config {
	log.SetFlags(log.LstdFlags)
	log.SetPrefix(name + ": ")
	log.SetOutput(os.Stderr)

	var c Config
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	fs.BoolVar(&c.ReusePort, "reuseport", false, "set SO_REUSEPORT on the listener (several processes may share the port)")
	fs.IntVar(&c.MaxMessage, "max-message", DefaultMaxMessage, "largest message accepted, in `bytes`")
	fs.StringVar(&c.Mode, "mode", ModeEcho, "echo, or pubsub: topics over the wsloop subscribe request, publications by POST /publish/{topic} on -admin")
	fs.StringVar(&c.Admin, "admin", "127.0.0.1:8081", "pubsub: `host:port` of the HTTP publish endpoint")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		Fatalf("unexpected arguments: %q", fs.Args())
	}
	if c.MaxMessage <= 0 {
		Fatalf("-max-message must be positive, got %d", c.MaxMessage)
	}
	if c.Mode != ModeEcho && c.Mode != ModePubSub {
		Fatalf("-mode %q: want echo or pubsub", c.Mode)
	}
	return c
}

// Listen opens the TCP listener for c, with SO_REUSEPORT when c.ReusePort.
func Listen(c Config) (net.Listener, error) {
	return ListenConfig(c.ReusePort).Listen(context.Background(), "tcp", c.Addr)
}

// ListenConfig returns a net.ListenConfig that sets SO_REUSEPORT on the
// socket before bind when reusePort is true.
func ListenConfig(reusePort bool) *net.ListenConfig {
	lc := &net.ListenConfig{}
	if reusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("setsockopt SO_REUSEPORT: %w", serr)
			}
			return nil
		}
	}
	return lc
}

// Ready prints the one line the orchestrator waits for, "listening <addr>",
// to stdout. os.Stdout is unbuffered, so the line is written (flushed) when
// this returns. Call it once the listener is bound and being served.
func Ready(addr net.Addr) {
	if _, err := fmt.Fprintf(os.Stdout, "listening %s\n", addr.String()); err != nil {
		Fatalf("writing the listening line: %v", err)
	}
	_ = os.Stdout.Sync() // fails harmlessly on pipes; the write above is already unbuffered
}

// WaitSignal blocks until SIGINT or SIGTERM arrives.
func WaitSignal() os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return <-ch
}

// Exit runs stop (closing the listener and whatever else the library wants
// closed), waiting at most 3 s for it, and exits the process with status 0.
func Exit(stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop()
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		log.Printf("shutdown took longer than 3s; exiting anyway")
	}
	os.Exit(0)
}

// Fatalf logs to stderr and exits with status 1.
func Fatalf(format string, args ...any) {
	log.Printf(format, args...)
	os.Exit(1)
}

// ServeHTTP runs a net/http server with handler h on a listener made from c,
// prints the listening line, and on SIGINT/SIGTERM closes the listener and
// exits. It is for the peers whose library upgrades inside a net/http
// handler (gorilla, coder).
func ServeHTTP(c Config, h http.Handler) {
	ln, err := Listen(c)
	if err != nil {
		Fatalf("listen: %v", err)
	}
	// Library defaults throughout: no timeouts, the default error log (stderr).
	srv := &http.Server{Handler: h}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			Fatalf("serve: %v", err)
		}
	}()
	Ready(ln.Addr())
	WaitSignal()
	// Close closes the listener and idle HTTP connections; hijacked
	// (upgraded) connections die with the process.
	Exit(func() { _ = srv.Close() })
}

// IsClosedOrEOF reports whether err is the ordinary end of a connection or
// listener (not worth logging).
func IsClosedOrEOF(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
