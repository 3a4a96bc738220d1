package natsbroker

import (
	"fmt"
	"sync/atomic"
	"testing"
)

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
