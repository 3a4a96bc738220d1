package hostile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxReadPayload bounds what one received frame may carry: the servers
// under test never send more than one 16 MiB message (their limit).
const maxReadPayload = 17 << 20

// Client is a raw TCP connection to a server under test: the suite writes
// exactly the bytes it wants and parses what comes back itself.
type Client struct {
	*net.TCPConn
	r       *bufio.Reader
	deflate bool   // the server accepted permessage-deflate
	window  []byte // the last 32 KiB the server's messages inflated to
	owed    int    // payload bytes of a partly read frame, skipped before the next
}

// readPart reads the header of the next frame and n bytes of its payload
// (a reader that stops mid-message); the rest is skipped by the next
// frame read.
func (c *Client) readPart(n int, d time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return err
	}
	size := int(h[1] & 0x7f)
	switch size {
	case 126, 127:
		ext := make([]byte, map[int]int{126: 2, 127: 8}[size])
		if _, err := io.ReadFull(c.r, ext); err != nil {
			return err
		}
		size = 0
		for _, b := range ext {
			size = size<<8 | int(b)
		}
	}
	n = min(n, size)
	if _, err := c.r.Discard(n); err != nil {
		return err
	}
	c.owed = size - n
	return nil
}

// Dial opens a TCP connection to addr with TCP_NODELAY, so that each Send
// is a segment of its own.
func Dial(addr string) (*Client, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetNoDelay(true)
	return &Client{TCPConn: tc, r: bufio.NewReaderSize(tc, 64<<10)}, nil
}

// Send writes b within d.
func (c *Client) Send(b []byte, d time.Duration) error {
	_ = c.SetWriteDeadline(time.Now().Add(d))
	_, err := c.Write(b)
	return err
}

// Trickle writes b one byte per write (each its own segment).
func (c *Client) Trickle(b []byte, d time.Duration) error {
	_ = c.SetWriteDeadline(time.Now().Add(d))
	for i := range b {
		if _, err := c.Write(b[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// Reset closes the connection with an RST (SO_LINGER 0) instead of a FIN.
func (c *Client) Reset() {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// HalfClose sends a FIN (shutdown SHUT_WR) and keeps reading.
func (c *Client) HalfClose() { _ = c.CloseWrite() }

// Response is the HTTP response head the server sent.
type Response struct {
	Status int
	Line   string              // the status line
	Header map[string][]string // field names lower-cased, values trimmed
	Raw    string
}

// Get returns the values of a header field, joined by ", ".
func (r *Response) Get(name string) string {
	return strings.Join(r.Header[strings.ToLower(name)], ", ")
}

// Has reports whether the comma-separated list of field name contains
// token (case-insensitive).
func (r *Response) Has(name, token string) bool {
	for _, v := range r.Header[strings.ToLower(name)] {
		for item := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), token) {
				return true
			}
		}
	}
	return false
}

// ReadResponse reads an HTTP/1.x response head within d. The bytes after
// it (a body, or frames after a 101) stay buffered for ReadFrame.
func (c *Client) ReadResponse(d time.Duration) (*Response, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var raw bytes.Buffer
	resp := &Response{Header: map[string][]string{}}
	for i := 0; ; i++ {
		line, err := c.r.ReadSlice('\n')
		raw.Write(line)
		if err != nil {
			if raw.Len() > 0 && isTimeout(err) {
				return nil, fmt.Errorf("partial response %q: %w", clip(raw.String(), 120), err)
			}
			return nil, err
		}
		if raw.Len() > 32<<10 {
			return nil, fmt.Errorf("response head over 32 KiB")
		}
		s := strings.TrimRight(string(line), "\r\n")
		if i == 0 {
			resp.Line = s
			f := strings.SplitN(s, " ", 3)
			if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
				return nil, fmt.Errorf("not an HTTP response: %q", clip(s, 80))
			}
			if resp.Status, err = strconv.Atoi(f[1]); err != nil {
				return nil, fmt.Errorf("bad status line %q", clip(s, 80))
			}
			continue
		}
		if s == "" {
			break
		}
		name, value, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("bad response header line %q", clip(s, 80))
		}
		key := strings.ToLower(strings.TrimSpace(name))
		resp.Header[key] = append(resp.Header[key], strings.TrimSpace(value))
	}
	resp.Raw = raw.String()
	return resp, nil
}

// ReadFrame reads one frame within d (the deadline covers the whole
// frame). Server frames must not be masked; a masked one is returned with
// Masked set and its payload unmasked.
func (c *Client) ReadFrame(d time.Duration) (Got, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	return c.readFrame(false)
}

// readFrame parses one frame; with skip the payload is discarded.
func (c *Client) readFrame(skip bool) (Got, error) {
	if c.owed > 0 {
		n, err := c.r.Discard(c.owed)
		c.owed -= n
		if err != nil {
			return Got{}, err
		}
	}
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return Got{}, err
	}
	g := Got{Fin: h[0]&bitFIN != 0, RSV: h[0] & (bitRSV1 | bitRSV2 | bitRSV3), Op: h[0] & 0x0f, Masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return Got{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return Got{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	if g.Masked {
		if _, err := io.ReadFull(c.r, key[:]); err != nil {
			return Got{}, err
		}
	}
	if n > maxReadPayload {
		return Got{}, fmt.Errorf("server frame of %d bytes (%v)", n, g)
	}
	if skip && g.Op < OpClose {
		_, err := c.r.Discard(int(n))
		return g, err
	}
	g.Payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, g.Payload); err != nil {
		return Got{}, err
	}
	if g.Masked {
		for i := range g.Payload {
			g.Payload[i] ^= key[i&3]
		}
	}
	return g, nil
}

// Buffered is how many received bytes wait in the client's buffer.
func (c *Client) Buffered() int { return c.r.Buffered() }

// isTimeout reports a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// isReset reports a connection reset by the peer.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// endOf names how a read ended: "TCP closed" (FIN), "TCP reset", "no
// answer within …" or the error.
func endOf(err error, d time.Duration) string {
	switch {
	case err == nil:
		return "open"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "TCP closed"
	case isReset(err):
		return "TCP reset"
	case isTimeout(err):
		return fmt.Sprintf("no answer within %v", d)
	}
	return err.Error()
}

// clip shortens s to n bytes for messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
