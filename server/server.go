// Package server is wsloop's public API: a WebSocket server (RFC 6455) that
// holds very many connections on a few event loops and runs handlers on a
// bounded worker pool (or, with WithInlineHandlers, on the loops).
//
//	srv := server.New(handler, server.WithPingInterval(30*time.Second))
//	err := srv.ListenAndServe("127.0.0.1:8080")
//
// Goroutines: the Handler runs on the pool's workers (inline: on the
// connection's event loop), in order per connection; Conn methods are safe from any goroutine; HTTPHandler and
// send-completion callbacks run on event loops and must not block.
package server

import (
	"context"

	"github.com/wsloop/wsloop/poller"
)

// ErrServerClosed is returned by ListenAndServe after Shutdown.
var ErrServerClosed = poller.ErrServerClosed

// Server is a WebSocket server. Create it with New.
type Server struct {
	eng *poller.Engine
}

// New returns a server that calls h for every connection.
func New(h Handler, opts ...Option) *Server {
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	return &Server{eng: poller.New(adapter{h}, poller.Config(cfg))}
}

// Start binds addr ("host:port"; port 0 picks one) and serves in the
// background. It returns once the listener is bound, or with the error
// that prevented it. Call it once.
func (s *Server) Start(addr string) error { return s.eng.Start(addr) }

// ListenAndServe binds addr and serves until Shutdown, then returns
// ErrServerClosed (or the error that stopped the event loops).
func (s *Server) ListenAndServe(addr string) error {
	if err := s.eng.Start(addr); err != nil {
		return err
	}
	if err := s.eng.Wait(); err != nil {
		return err
	}
	return ErrServerClosed
}

// Addr is the bound address, valid after Start returned nil.
func (s *Server) Addr() string { return s.eng.Addr() }

// Connections reports the number of upgraded connections now open.
func (s *Server) Connections() int64 { return s.eng.Open() }

// Shutdown drains the server gracefully: new upgrades get 503, every open
// connection gets a 1001 Going Away close frame after what was already
// queued for it, and Shutdown waits for the closing handshakes or for ctx
// to end, then stops the event loops and the workers. With WithReusePort
// (on Linux) the server first leaves the port's SO_REUSEPORT group, so
// the kernel hands new connections to the other processes on the port
// rather than to this one. Safe from any goroutine.
func (s *Server) Shutdown(ctx context.Context) error { return s.eng.Shutdown(ctx) }

// TLSAddr is the bound address of the wss listener (WithTLS), or "".
func (s *Server) TLSAddr() string { return s.eng.TLSAddr() }
