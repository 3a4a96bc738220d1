package client

import (
	"context"
	"sync"
)

// Client is a WebSocket connection that reconnects by itself. Create it
// with New (then Start) or Dial. Every method is safe from any goroutine.
type Client struct {
	url string
	cfg config

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cn      *conn // nil while not connected
	started bool
	closed  bool
	subs    map[string]*subscription
	reqID   uint64
}

// New returns a client of url (ws:// or wss://) that is not connected
// yet: call Start.
func New(url string, opts ...Option) *Client {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{url: url, cfg: cfg, ctx: ctx, cancel: cancel, done: make(chan struct{}), subs: make(map[string]*subscription)}
}

// Dial returns a client connected to url: the first connection is made
// before Dial returns (ctx bounds it; its error is returned), later ones
// by the client's goroutine as needed.
func Dial(ctx context.Context, url string, opts ...Option) (*Client, error) {
	c := New(url, opts...)
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	cn, err := c.dial(ctx)
	if err != nil {
		c.cancel()
		close(c.done)
		return nil, err
	}
	c.mu.Lock()
	c.cn = cn // Send works as soon as Dial returns
	c.mu.Unlock()
	go c.run(cn)
	return c, nil
}

// Start starts the client's goroutine, which connects (retrying with
// backoff unless WithoutReconnect) and reconnects. It returns at once.
func (c *Client) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return ErrStarted
	}
	if c.closed {
		return ErrClosed
	}
	c.started = true
	go c.run(nil)
	return nil
}

// Close sends a close frame (1000), stops reconnecting and ends the
// client; OnClose follows on the client's goroutine, then Done is closed.
// It does not wait for the client to stop (so callbacks may call it);
// wait on Done for that. Writing the close frame may take up to
// WithWriteTimeout when the peer does not read.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.cn
	started := c.started
	c.mu.Unlock()
	c.cancel()
	if cn != nil {
		cn.closeGracefully()
	}
	if !started {
		close(c.done)
	}
	return nil
}

// Done is closed when the client has stopped (after Close, or when a
// connection ends with reconnection disabled).
func (c *Client) Done() <-chan struct{} { return c.done }

// Connected reports whether the client currently has a connection.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cn != nil
}

// Subprotocol returns the subprotocol of the current connection ("" when
// none was negotiated or there is no connection).
func (c *Client) Subprotocol() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cn == nil {
		return ""
	}
	return c.cn.proto
}

// Compressed reports whether the current connection negotiated
// permessage-deflate.
func (c *Client) Compressed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cn != nil && c.cn.deflate
}

// Send sends a data message on the current connection. p is copied.
// Messages sent on one connection reach the server in the order of the
// Send calls that returned nil. Send returns ErrNotConnected while the
// client reconnects (nothing is queued across connections), ErrQueueFull
// when WithMaxQueuedBytes are already queued for a slow peer, ErrClosed
// after Close. When it returns nil, done (if not nil) is called exactly
// once: with nil once the frame was written to the socket, or with the
// error that failed the connection first. done runs on the goroutine that
// wrote the frame (possibly this one, before Send returns) and must not
// block. Send may write on the calling goroutine, waiting at most
// WithWriteTimeout.
func (c *Client) Send(t MessageType, p []byte, done func(error)) error {
	c.mu.Lock()
	cn, closed := c.cn, c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if cn == nil {
		return ErrNotConnected
	}
	return cn.sendData(t, p, done)
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
