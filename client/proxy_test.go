package client_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy is a TCP proxy for fault injection: Freeze stops forwarding in
// both directions without closing anything (a half-open peer: no FIN, no
// RST), Cut closes every proxied connection.
type proxy struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	refuse atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	count  atomic.Int64 // accepted connections
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.Cut() })
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.count.Add(1)
		if p.refuse.Load() {
			_ = a.Close()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = a.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, a, b)
		p.mu.Unlock()
		go p.pipe(a, b)
		go p.pipe(b, a)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				if tc, ok := dst.(*net.TCPConn); ok && !p.frozen.Load() {
					_ = tc.CloseWrite()
				}
			}
			return
		}
	}
}

// Freeze makes every current and future connection a black hole.
func (p *proxy) Freeze(on bool) { p.frozen.Store(on) }

// Refuse makes new connections close at once (the server is "down").
func (p *proxy) Refuse(on bool) { p.refuse.Store(on) }

// Cut closes every proxied connection.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
