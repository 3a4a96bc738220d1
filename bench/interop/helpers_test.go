package interop

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsloop/wsloop/server"
)

// testSizes are the payload sizes every echo test covers: the boundaries of
// the 7-bit, 16-bit and 64-bit payload length encodings, plus 1 MiB and the
// 16 MiB message limit the test server is configured with.
var testSizes = []int{0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20}

// maxMessage is the message size limit of the default test server.
const maxMessage = 16 << 20

// startServer starts an in-process echo server on a free loopback port and
// returns its ws:// URL. The server is shut down when the test ends.
func startServer(t testing.TB, opts ...server.Option) string {
	t.Helper()
	if os.Getenv("WSLOOP_TEST_LOG") != "" {
		// Debug aid: the server's own log on stderr.
		lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		opts = append([]server.Option{server.WithLogger(lg)}, opts...)
	}
	srv := server.New(server.Echo(), opts...)
	serve(t, srv)
	return "ws://" + srv.Addr() + "/"
}

// startEcho starts an echo server that accepts messages up to maxMessage.
func startEcho(t testing.TB) string {
	t.Helper()
	return startServer(t, server.WithMaxMessageSize(maxMessage))
}

// makeText returns valid UTF-8 text of exactly n bytes that mixes 1-, 2-, 3-
// and 4-byte sequences, so fragmented sends split multi-byte characters.
func makeText(n int) []byte {
	runes := []rune("wsloop é€𝄞 ")
	var b bytes.Buffer
	b.Grow(n)
	for i := 0; b.Len() < n; i++ {
		r := runes[i%len(runes)]
		if b.Len()+utf8.RuneLen(r) > n {
			r = 'x'
		}
		b.WriteRune(r)
	}
	return b.Bytes()
}

// makeBinary returns n bytes of a deterministic pattern that is not valid
// UTF-8, so a server that wrongly validates binary messages fails.
func makeBinary(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// inCI reports whether the tests run under the project's CI, where missing
// third-party clients are a failure rather than a reason to skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips the test outside CI and fails it in CI.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf("skipping (set CI=true to make this a failure): "+format, args...)
}

// sameBytes compares two payloads and describes the first difference.
func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: got %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
}

func sizeName(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n)
}

// expectTCPClosed checks that the peer closes the TCP connection soon: a read
// returns EOF or a reset rather than data or a timeout.
func expectTCPClosed(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n > 0 {
		t.Fatalf("server sent %d more bytes after the close handshake: %q", n, buf[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server did not close the TCP connection within 5s of the close handshake")
	}
}

// runClients runs n clients at once and reports every error.
func runClients(t *testing.T, n int, client func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- client(i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// serve starts srv on a free loopback port and shuts it down when the test
// ends.
func serve(t testing.TB, srv *server.Server) {
	t.Helper()
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("server start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Logf("server shutdown: %v", err)
		}
	})
}
