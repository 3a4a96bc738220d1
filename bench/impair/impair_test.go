//go:build linux

package impair

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// newLink returns a link closed at the end of the test, or skips the test
// where links cannot be built.
func newLink(t testing.TB, cfg Config) *Link {
	t.Helper()
	if err := Supported(); err != nil {
		t.Skipf("no impaired link on this machine: %v", err)
	}
	l, err := New(t.Name(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// hostListen listens on the host side of the link.
func hostListen(t testing.TB, l *Link) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(l.HostAddr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestTCPBulk sends 2 MB over TCP from the namespace to the host through
// loss, delay, jitter, reordering and duplication: it must arrive intact,
// and each impairment must have hit some packets.
func TestTCPBulk(t *testing.T) {
	l := newLink(t, Config{
		Loss: 0.05, Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond,
		Reorder: 0.10, Duplicate: 0.01,
	})
	ln := hostListen(t, l)
	data := make([]byte, 2<<20)
	rng := rand.NewChaCha8([32]byte{6})
	_, _ = rng.Read(data)
	want := sha256.Sum256(data)

	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(45 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n, r.err = n, err
		got <- r
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if la := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); la != l.NSAddr() {
		t.Fatalf("dialed from %v, want the namespace's %v", la, l.NSAddr())
	}
	_ = c.SetDeadline(time.Now().Add(45 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatalf("receiving: %v after %d bytes", r.err, r.n)
	}
	if r.n != int64(len(data)) || !bytes.Equal(r.sum[:], want[:]) {
		t.Fatalf("received %d bytes, sha256 %x; sent %d, %x", r.n, r.sum, len(data), want)
	}
	st := l.Stats()
	t.Logf("stats: %+v", st)
	up := st.ToHost
	if up.Lost == 0 || up.Reordered == 0 || up.Duplicated == 0 || up.Delayed == 0 {
		t.Errorf("impairments not applied to the data direction: %+v", up)
	}
	if st.ToNS.Forwarded == 0 || st.ToNS.Lost == 0 {
		t.Errorf("impairments not applied to the ack direction: %+v", st.ToNS)
	}
}

// TestCloseTwice checks that Close removes the namespace, is idempotent,
// and that dialing afterwards fails.
func TestCloseTwice(t *testing.T) {
	l := newLink(t, Config{})
	if _, err := os.Stat(netnsDir + "/" + l.NSName()); err != nil {
		t.Fatalf("namespace missing: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(netnsDir + "/" + l.NSName()); !os.IsNotExist(err) {
		t.Fatalf("namespace left after Close: %v", err)
	}
	if c, err := l.DialContext(context.Background(), "tcp", "127.0.0.1:1"); err == nil {
		c.Close()
		t.Fatal("DialContext after Close succeeded")
	}
}

// TestRateLimit sends 64 KB through a 64 KB/s link without delay: it
// arrives intact, and the rate limit queued packets (Delayed) without
// overflowing the queue.
func TestRateLimit(t *testing.T) {
	l := newLink(t, Config{Rate: 64 << 10})
	ln := hostListen(t, l)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<10)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("received %d bytes, want %d intact", len(b), len(data))
	}
	st := l.Stats().ToHost
	if st.Delayed == 0 || st.Overflow != 0 || st.Dropped() != 0 {
		t.Fatalf("stats %+v", st)
	}
}
