package natsbroker

import (
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startServer runs a real nats-server with JetStream inside the test
// process, on 127.0.0.1 (port 0: a free one), storing in dir. It is shut
// down when the test ends (Shutdown twice is harmless).
func startServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = freePort(t)
	}
	s, err := server.NewServer(&server.Options{
		Host:               "127.0.0.1",
		Port:               port,
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 30,
		NoLog:              os.Getenv("NATSLOG") == "",
		NoSigs:             true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("NATSLOG") != "" {
		s.ConfigureLogger()
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// freePort is a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var prefixes atomic.Int64

// uniquePrefix keeps the streams of each test's deployment apart on a
// shared server.
func uniquePrefix() string { return fmt.Sprintf("t%d", prefixes.Add(1)) }

// connect is Connect that fails the test on error and closes the broker
// when the test ends.
func connect(t testing.TB, url string, opts ...Option) *Broker {
	t.Helper()
	b, err := Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
