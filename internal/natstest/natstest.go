// Package natstest runs a real nats-server with JetStream inside a test
// process, for the tests of the NATS broker and of what runs on it.
package natstest

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs a nats-server with JetStream on 127.0.0.1:port (0: a free
// port), storing in dir, until the test ends (Shutdown twice is
// harmless, so a test may stop it earlier and start another on the same
// dir and port). Set NATSLOG to see its log.
func Start(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = FreePort(t)
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

// FreePort is a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
