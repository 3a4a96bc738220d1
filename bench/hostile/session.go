package hostile

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ioTimeout bounds every single exchange of a case (an answer to a
// request, an echo, a close) unless the case says otherwise.
const ioTimeout = 3 * time.Second

// Upgrade dials addr and completes a valid handshake (with extra field
// lines), checking the 101 and its Sec-WebSocket-Accept. The client
// inflates compressed messages when the server accepted
// permessage-deflate.
func Upgrade(addr string, extra ...string) (*Client, *Response, error) {
	c, err := Dial(addr)
	if err != nil {
		return nil, nil, err
	}
	h := NewHead(addr).Add(extra...)
	resp, err := c.Handshake(h)
	if err != nil {
		c.Close()
		return nil, resp, err
	}
	return c, resp, nil
}

// Handshake sends h and reads the answer: an error unless it is a 101
// with the right Sec-WebSocket-Accept.
func (c *Client) Handshake(h *Head) (*Response, error) {
	if err := c.Send(h.Bytes(), ioTimeout); err != nil {
		return nil, err
	}
	resp, err := c.ReadResponse(ioTimeout)
	if err != nil {
		return nil, fmt.Errorf("no response: %s", endOf(err, ioTimeout))
	}
	if err := checkSwitch(resp, h.Key()); err != nil {
		return resp, err
	}
	c.deflate = resp.Has("Sec-WebSocket-Extensions", "permessage-deflate") ||
		strings.HasPrefix(strings.ToLower(resp.Get("Sec-WebSocket-Extensions")), "permessage-deflate")
	return resp, nil
}

// checkSwitch checks a 101 answer to a handshake with key
// (RFC 6455 §4.2.2 step 5, §4.1 the client's checks).
func checkSwitch(resp *Response, key string) error {
	switch {
	case resp.Status != 101:
		return fmt.Errorf("status %d", resp.Status)
	case !resp.Has("Upgrade", "websocket"):
		return fmt.Errorf("101 without Upgrade: websocket")
	case !resp.Has("Connection", "upgrade"):
		return fmt.Errorf("101 without Connection: Upgrade")
	case resp.Get("Sec-WebSocket-Accept") != AcceptOf(key):
		return fmt.Errorf("101 with Sec-WebSocket-Accept %q, want %q", resp.Get("Sec-WebSocket-Accept"), AcceptOf(key))
	}
	return nil
}

// Msg is a message (continuation frames joined, inflated when it was
// compressed) or a control frame from the server.
type Msg struct {
	Op         byte
	Data       []byte
	Compressed bool
	Frames     int
	Raw        []byte // a compressed message's payload as received
	History    int    // bytes of earlier messages in the inflater's window
}

func (m Msg) String() string {
	g := Got{Op: m.Op, Payload: m.Data}
	return g.String()
}

// ReadMsg reads the next message or control frame within d.
func (c *Client) ReadMsg(d time.Duration) (Msg, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var m Msg
	for {
		g, err := c.readFrame(false)
		if err != nil {
			return Msg{}, err
		}
		if g.Masked {
			return Msg{}, fmt.Errorf("server sent a masked frame (%v)", g)
		}
		if g.Op >= OpClose {
			return Msg{Op: g.Op, Data: g.Payload, Frames: 1}, nil
		}
		if m.Frames == 0 {
			if g.Op == OpCont {
				return Msg{}, errors.New("server sent a continuation frame without a message")
			}
			m.Op, m.Compressed = g.Op, g.RSV&bitRSV1 != 0
		} else if g.Op != OpCont {
			return Msg{}, fmt.Errorf("server sent %v inside a fragmented message", g)
		}
		m.Frames++
		m.Data = append(m.Data, g.Payload...)
		if len(m.Data) > maxReadPayload {
			return Msg{}, fmt.Errorf("server message over %d bytes", maxReadPayload)
		}
		if g.Fin {
			break
		}
	}
	if m.Compressed {
		if !c.deflate {
			return Msg{}, fmt.Errorf("server set RSV1 without permessage-deflate (%d bytes)", len(m.Data))
		}
		// The last 32 KiB of earlier messages are the window of a server
		// that keeps its context (RFC 7692 §7.2.3.3); one that does not
		// never refers to them.
		m.Raw, m.History = m.Data, len(c.window)
		out, err := InflateDict(m.Data, c.window, maxReadPayload)
		if err != nil {
			return Msg{}, fmt.Errorf("server's compressed message: %w", err)
		}
		m.Data = out
		c.window = append(c.window, out...)
		if len(c.window) > 32<<10 {
			c.window = append(c.window[:0:0], c.window[len(c.window)-32<<10:]...)
		}
	}
	return m, nil
}

// NextData reads until a data message or a close frame, answering nothing
// and skipping pings and pongs; it returns the message.
func (c *Client) NextData(d time.Duration) (Msg, error) {
	deadline := time.Now().Add(d)
	for {
		m, err := c.ReadMsg(time.Until(deadline))
		if err != nil || (m.Op != OpPing && m.Op != OpPong) {
			return m, err
		}
	}
}

// Echo sends one message and checks that the same message comes back.
func (c *Client) Echo(op byte, payload []byte) error {
	if err := c.Send(Frame(F{Op: op, Payload: payload}), ioTimeout); err != nil {
		return err
	}
	return c.ExpectEcho(op, payload, ioTimeout)
}

// ExpectEcho reads the next data message and compares it with op and
// payload.
func (c *Client) ExpectEcho(op byte, payload []byte, d time.Duration) error {
	m, err := c.NextData(d)
	if err != nil {
		return fmt.Errorf("no echo: %s", endOf(err, d))
	}
	if m.Op != op || !bytes.Equal(m.Data, payload) {
		return fmt.Errorf("got %v, want %v", m, Msg{Op: op, Data: payload})
	}
	return nil
}

// CloseClean sends a close 1000 and waits for the server's close and
// then the end of TCP (RFC 6455 §7.1.1: the server closes TCP first).
func (c *Client) CloseClean() error {
	defer c.Close()
	if err := c.Send(Close(1000, ""), ioTimeout); err != nil {
		return err
	}
	for {
		m, err := c.ReadMsg(ioTimeout)
		if err != nil {
			return fmt.Errorf("no close frame: %s", endOf(err, ioTimeout))
		}
		if m.Op == OpClose {
			break
		}
	}
	return c.ExpectEOF(5 * time.Second)
}

// ExpectEOF waits up to d for the server to end TCP, discarding any data.
func (c *Client) ExpectEOF(d time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := io.Copy(io.Discard, c.r)
	switch {
	case err == nil:
		return nil // EOF
	case isReset(err):
		return nil
	case isTimeout(err):
		return fmt.Errorf("TCP still open %v later (%d bytes more)", d, n)
	}
	return err
}

// deflateTail ends every compressed message (RFC 7692 §7.2.1): the
// sender removes it, the receiver appends it back.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// Deflate compresses p as one permessage-deflate message payload.
func Deflate(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(b.Bytes(), deflateTail)
}

// InflateDict decompresses a permessage-deflate payload whose window
// starts with dict, refusing more than limit bytes of output.
func InflateDict(p, dict []byte, limit int) ([]byte, error) {
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail)), dict)
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if len(out) > limit {
		return nil, fmt.Errorf("inflates to over %d bytes", limit)
	}
	return out, nil
}
