package client

import (
	"math/rand/v2"
	"time"
)

// run is the client's goroutine: connect, read until the connection
// ends, back off, reconnect.
func (c *Client) run(cn *conn) {
	defer close(c.done)
	attempt := 0
	for {
		if cn == nil {
			if c.isClosed() {
				return
			}
			var err error
			cn, err = c.dial(c.ctx)
			if err != nil {
				if c.isClosed() {
					return
				}
				c.report(err)
				if !c.cfg.reconnect || !c.sleep(c.backoff(attempt)) {
					c.finish()
					return
				}
				attempt++
				continue
			}
		}
		err := c.serve(cn)
		if c.cfg.onClose != nil {
			c.cfg.onClose(c, err)
		}
		// A connection that lasted resets the backoff; one that ended at
		// once counts as a failed attempt.
		if time.Since(cn.opened) > 2*time.Second {
			attempt = 0
		} else {
			attempt++
		}
		cn = nil
		if c.isClosed() || !c.cfg.reconnect {
			c.finish()
			return
		}
		if !c.sleep(c.backoff(attempt)) {
			return
		}
	}
}

// serve runs one connection: it becomes current, topics are
// resubscribed, OnOpen runs, then it is read until it ends.
func (c *Client) serve(cn *conn) error {
	c.mu.Lock()
	c.cn = cn
	closed := c.closed
	flush := false
	if !closed {
		flush = c.resubscribeLocked(cn)
	}
	c.mu.Unlock()
	if flush {
		cn.wr.flush()
	}
	if closed {
		// Close came first: finish the closing handshake on this
		// connection.
		cn.closeGracefully()
	} else {
		cn.hb.start(cn)
		if c.cfg.onOpen != nil {
			c.cfg.onOpen(c)
		}
	}
	err := cn.readLoop()
	c.mu.Lock()
	c.cn = nil
	c.mu.Unlock()
	cn.shutdown(err)
	return err
}

// finish marks the client closed when it stops by itself.
func (c *Client) finish() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
}

// backoff is the wait before attempt n: full jitter over
// min(max, min·2ⁿ).
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.backoffMin
	for i := 0; i < n && d < c.cfg.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.backoffMax)
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// sleep waits d or until Close; false means closed.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *Client) report(err error) {
	if c.cfg.onError != nil {
		c.cfg.onError(c, err)
	}
}
