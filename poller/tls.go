package poller

// Built-in wss. gnet has no TLS (its roadmap still lists it), so the wss
// listener is a plain Go listener on Config.TLSAddr, crypto/tls decrypts,
// and each connection is bridged into gnet through a unix socket pair: gnet
// holds one end, registered with Engine.Register, and sees the decrypted
// byte stream; two goroutines copy between the other end and the
// *tls.Conn. From the WebSocket handshake on, a wss connection is handled
// exactly like a ws one (same codec, limits, timers and Handler), and
// Conn.RemoteAddr is the TLS client's address, passed to OnOpen as the gnet
// context value.
//
// Costs per wss connection, on top of a ws one:
//   - three file descriptors instead of one (the client's socket and both
//     ends of the pair), so size RLIMIT_NOFILE at three per wss client;
//   - two goroutines, parked without buffers while the connection is idle:
//     a 16 KiB pooled buffer is taken only while bytes flow;
//   - crypto/tls's state: the AES-GCM ciphers, and handshake and record
//     buffers that keep their largest size.
//
// Measured with 2000 idle connections (TLS 1.3, ECDSA P-256, after GC; a
// throwaway program, not in the repository), against 0.5-0.7 KiB of RSS
// per ws connection:
//   - after one 11-byte echo, 17-20 KiB of RSS per wss connection: heap
//     9-10 KiB (crypto/tls about 7: buffers 3.5, AES-GCM 1.7, tls.Conn
//     0.9) and goroutine stacks 8 KiB;
//   - after one 64 KiB echo, 40-43 KiB: crypto/tls's record buffer, once
//     grown for full-size (16 KiB) records, stays at 20-50 KiB;
//   - plus the kernel's memory for two more sockets, which RSS does not
//     show.
//
// Goroutines: one accepts; per connection, the one started by the accept
// loop does the TLS handshake, registers the connection with gnet and then
// carries client-to-gnet bytes (fromClient), and a second one carries
// gnet-to-client bytes (toClient) and closes everything at the end.
//
// The TLS handshake gets Config.HandshakeTimeout; the WebSocket upgrade that
// follows gets it again from the engine, as for any connection. A PROXY
// protocol header in front of the TLS handshake is not understood.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/wsloop/wsloop/internal/tlsbridge"
)

// tlsListener is the wss listener's state (see Config.TLSConfig). Its
// fields are guarded by mu; stopTLS clears ln.
type tlsListener struct {
	mu     sync.Mutex
	ln     *net.TCPListener
	cancel context.CancelFunc
	addr   string
}

// startTLS starts the wss listener on Config.TLSAddr. Called by Start after
// gnet booted; the listener stops with stopTLS, or when the engine stops.
func (e *Engine) startTLS() error {
	if c := e.cfg.TLSConfig; len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
		return errors.New("wsloop: wss: the TLS config has no certificate")
	}
	ln, err := net.Listen("tcp", e.cfg.TLSAddr)
	if err != nil {
		return fmt.Errorf("wsloop: wss listener: %w", err)
	}
	// WebSocket's opening handshake is HTTP/1.1 (RFC 6455 §4.1); a client
	// that negotiated h2 through ALPN (RFC 7301) would speak HTTP/2.
	cfg := e.cfg.TLSConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	ctx, cancel := context.WithCancel(context.Background())
	e.tls.mu.Lock()
	e.tls.ln, e.tls.cancel, e.tls.addr = ln.(*net.TCPListener), cancel, ln.Addr().String()
	e.tls.mu.Unlock()
	go e.acceptTLS(ctx, ln.(*net.TCPListener), cfg)
	go func() {
		select {
		case <-e.stopped:
			e.stopTLS()
		case <-ctx.Done():
		}
	}()
	return nil
}

// stopTLS closes the wss listener and interrupts TLS handshakes in
// progress. Bridged connections are gnet connections by then: the engine
// drains and closes them like any other, and their bridges end when gnet
// closes its end. Idempotent; safe from any goroutine.
func (e *Engine) stopTLS() {
	e.tls.mu.Lock()
	ln, cancel := e.tls.ln, e.tls.cancel
	e.tls.ln = nil
	e.tls.mu.Unlock()
	if ln != nil {
		cancel()
		_ = ln.Close()
	}
}

// TLSAddr is the bound address of the wss listener, or "". Safe from any
// goroutine.
func (e *Engine) TLSAddr() string {
	e.tls.mu.Lock()
	defer e.tls.mu.Unlock()
	return e.tls.addr
}

// acceptTLS accepts wss clients until ctx ends; each gets a goroutine for
// its handshake. Accept errors other than a closed listener (EMFILE and
// the like) are retried with a backoff from 5 ms to 1 s, as net/http does.
func (e *Engine) acceptTLS(ctx context.Context, ln *net.TCPListener, cfg *tls.Config) {
	var delay time.Duration
	for {
		raw, err := ln.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			e.cfg.Logger.Info("wss accept failed", "err", err, "retry", delay)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		delay = 0
		go e.serveTLS(ctx, raw, cfg)
	}
}

// serveTLS runs one wss connection: TLS handshake, registration with gnet,
// then the client-to-gnet copy until the client's side ends.
func (e *Engine) serveTLS(ctx context.Context, raw *net.TCPConn, cfg *tls.Config) {
	sock := tlsbridge.NewSocket(raw)
	tc := tls.Server(sock, cfg)
	hctx, cancel := context.WithTimeout(ctx, e.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err == nil && ctx.Err() != nil {
		err = errDraining
	}
	if err != nil {
		e.cfg.Logger.Debug("wss handshake failed", "remote", raw.RemoteAddr(), "err", err)
		refuseNonTLS(err)
		_ = raw.Close()
		return
	}
	remote, _ := raw.RemoteAddr().(*net.TCPAddr)
	peer, err := e.enrollTLS(remote)
	if err != nil {
		e.cfg.Logger.Info("wss connection not registered", "remote", remote, "err", err)
		_ = raw.Close()
		return
	}
	b, err := tlsbridge.New(tc, sock, peer, e.cfg.CloseTimeout)
	if err != nil {
		_ = peer.Close()
		_ = raw.Close()
		return
	}
	go b.ToClient()
	b.FromClient()
}

// refuseNonTLS answers a plain HTTP request sent to the wss port with 400,
// as net/http does, so that a "ws://" URL pointing here fails clearly.
func refuseNonTLS(err error) {
	var re tls.RecordHeaderError
	if !errors.As(err, &re) || re.Conn == nil {
		return
	}
	h := re.RecordHeader[:]
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"} {
		if bytes.HasPrefix(h, []byte(m)) {
			_ = re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to the wss (TLS) port.\n")
			return
		}
	}
}

// enrollTLS creates the socket pair for a TLS client at remote, registers
// one end with gnet (whose OnOpen takes remote from the context value) and
// returns the other. It returns once OnOpen has run.
func (e *Engine) enrollTLS(remote *net.TCPAddr) (*net.UnixConn, error) {
	gside, ours, err := socketPair()
	if err != nil {
		return nil, err
	}
	// gnet dups gside's descriptor and closes gside (eventloop.enroll).
	res, err := e.gnetEng.Register(gnet.NewNetConnContext(gnet.NewContext(context.Background(), remote), gside))
	if err == nil {
		err = (<-res).Err
	}
	if err != nil {
		_ = gside.Close()
		_ = ours.Close()
		return nil, err
	}
	return ours, nil
}

// socketPair returns both ends of a new unix stream socket pair as
// non-blocking, close-on-exec *net.UnixConn.
func socketPair() (a, b *net.UnixConn, err error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	a, err = fdConn(fds[0])
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, err
	}
	if b, err = fdConn(fds[1]); err != nil {
		_ = a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// fdConn turns a unix stream socket into a *net.UnixConn and closes fd
// (net.FileConn works on a duplicate).
func fdConn(fd int) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), "wss-bridge")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}
