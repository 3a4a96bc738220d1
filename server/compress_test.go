package server_test

// permessage-deflate (RFC 7692) end to end: negotiation, echoes of
// compressed messages whole and fragmented (what Autobahn's categories 12
// and 13 exercise), protocol errors, decompression bombs and the memory an
// idle compressed connection holds.

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsloop/wsloop/server"
)

// rsv1 is the RSV1 bit in ws.Header.Rsv, which marks a compressed message.
var rsv1 = ws.Rsv(true, false, false)

// offerDeflate is the plainest permessage-deflate offer.
const offerDeflate = "Sec-WebSocket-Extensions: permessage-deflate"

// flateTailBytes is the end of a sync flush, which the sender strips
// (RFC 7692 §7.2.1).
var flateTailBytes = []byte{0x00, 0x00, 0xff, 0xff}

// clientDeflaters holds the test client's flate writers by level: a writer
// costs about a megabyte, too much to build for every message.
var clientDeflaters [flate.BestCompression + 1]sync.Pool

// deflatePayload compresses a whole message the way a permessage-deflate
// client without context takeover does: fresh state, a sync flush, the
// trailing 0x00 0x00 0xff 0xff removed.
func deflatePayload(p []byte, level int) []byte {
	var buf bytes.Buffer
	fw, _ := clientDeflaters[level].Get().(*flate.Writer)
	if fw == nil {
		var err error
		if fw, err = flate.NewWriter(&buf, level); err != nil {
			panic(err)
		}
	} else {
		fw.Reset(&buf)
	}
	_, _ = fw.Write(p)
	_ = fw.Flush()
	clientDeflaters[level].Put(fw)
	return bytes.TrimSuffix(buf.Bytes(), flateTailBytes)
}

// inflatePayload decompresses a server message: the stripped tail goes
// back, followed by an empty final block so the reader ends cleanly.
func inflatePayload(p []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(flateTailBytes), bytes.NewReader([]byte{0x01, 0x00, 0x00, 0xff, 0xff}))
	return io.ReadAll(flate.NewReader(src))
}

// compressedFrames frames a compressed payload as one message in frames of
// at most frag payload bytes (0: one frame), RSV1 on the first only.
func compressedFrames(op ws.OpCode, payload []byte, frag int, compressed bool) []byte {
	var rsv byte
	if compressed {
		rsv = rsv1
	}
	if frag <= 0 || len(payload) <= frag {
		return encode(true, rsv, op, payload)
	}
	var out []byte
	for first := true; len(payload) > 0; first = false {
		k := min(frag, len(payload))
		o, r := ws.OpContinuation, byte(0)
		if first {
			o, r = op, rsv
		}
		out = append(out, encode(k == len(payload), r, o, payload[:k])...)
		payload = payload[k:]
	}
	return out
}

// readDeflated reads one message from a connection that negotiated
// permessage-deflate: RSV1 may be set on its first frame only, and nothing
// else. It returns the inflated data and whether it came compressed.
func readDeflated(c *client, timeout time.Duration) (ws.OpCode, []byte, bool, error) {
	f, err := c.readFrame(timeout)
	if err != nil {
		return 0, nil, false, err
	}
	if f.op != ws.OpText && f.op != ws.OpBinary {
		return 0, nil, false, fmt.Errorf("expected a data message, got %s", f)
	}
	if f.rsv&^rsv1 != 0 {
		return 0, nil, false, fmt.Errorf("server frame with RSV2/RSV3: %s", f)
	}
	compressed := f.rsv == rsv1
	op, data := f.op, f.payload
	for !f.fin {
		if f, err = c.readFrame(timeout); err != nil {
			return 0, nil, false, err
		}
		if f.op != ws.OpContinuation || f.rsv != 0 {
			return 0, nil, false, fmt.Errorf("expected a continuation without RSV bits, got %s", f)
		}
		data = append(data, f.payload...)
	}
	if compressed {
		if data, err = inflatePayload(data); err != nil {
			return 0, nil, false, fmt.Errorf("inflating the server's message: %w", err)
		}
	}
	return op, data, compressed, nil
}

// dialExt upgrades with extra header lines and returns the client and the
// response's Sec-WebSocket-Extensions values.
func dialExt(t *testing.T, addr string, header ...string) (*client, []string) {
	t.Helper()
	res := handshake(t, addr, hsReq{header: header})
	c := upgraded(t, res)
	c.autoPong = true
	return c, res.header.Values("Sec-WebSocket-Extensions")
}

// extParams parses one extension element into its name and parameters
// ("name=value" or "name"), in order.
func extParams(ext string) (string, []string) {
	parts := strings.Split(ext, ";")
	var params []string
	for _, p := range parts[1:] {
		params = append(params, strings.ReplaceAll(strings.TrimSpace(p), " ", ""))
	}
	return strings.TrimSpace(parts[0]), params
}

// expectDeflateAnswer checks the response's extensions: exactly one
// permessage-deflate element with the parameters want (in any order), or
// none when want is nil.
func expectDeflateAnswer(t *testing.T, got []string, want []string) {
	t.Helper()
	var elems []string
	for _, v := range got {
		for e := range strings.SplitSeq(v, ",") {
			elems = append(elems, strings.TrimSpace(e))
		}
	}
	if want == nil {
		if len(elems) > 0 {
			t.Fatalf("Sec-WebSocket-Extensions %q, want none", got)
		}
		return
	}
	if len(elems) != 1 {
		t.Fatalf("Sec-WebSocket-Extensions %q, want one permessage-deflate element", got)
	}
	name, params := extParams(elems[0])
	slices.Sort(params)
	want = slices.Sorted(slices.Values(want))
	if name != "permessage-deflate" || !slices.Equal(params, want) {
		t.Fatalf("Sec-WebSocket-Extensions %q, want permessage-deflate; %s", got, strings.Join(want, "; "))
	}
}

// noTakeover is the answer the server always gives: no context takeover
// either way.
var noTakeover = []string{"client_no_context_takeover", "server_no_context_takeover"}

// ---------------------------------------------------------------------------
// Negotiation (Autobahn 13.x offers)

func TestCompressNegotiation(t *testing.T) {
	_, on := startServer(t, server.WithCompression(1, 0))
	_, off := startServer(t)
	ext := func(v string) string { return "Sec-WebSocket-Extensions: " + v }
	cases := []struct {
		name   string
		addr   string
		header []string
		want   []string // nil: declined
	}{
		{"plain", on, []string{ext("permessage-deflate")}, noTakeover},
		{"client-no-takeover", on, []string{ext("permessage-deflate; client_no_context_takeover")}, noTakeover},
		{"server-no-takeover", on, []string{ext("permessage-deflate; server_no_context_takeover")}, noTakeover},
		{"both-no-takeover", on, []string{ext("permessage-deflate; client_no_context_takeover; server_no_context_takeover")}, noTakeover},
		{"client-bits", on, []string{ext("permessage-deflate; client_max_window_bits")}, noTakeover},
		{"client-bits-8", on, []string{ext("permessage-deflate; client_max_window_bits=8")}, noTakeover},
		{"client-bits-10", on, []string{ext("permessage-deflate; client_max_window_bits=10")}, noTakeover},
		{"client-bits-15", on, []string{ext("permessage-deflate; client_max_window_bits=15")}, noTakeover},
		{"client-bits-quoted", on, []string{ext(`permessage-deflate; client_max_window_bits="12"`)}, noTakeover},
		{"server-bits-15", on, []string{ext("permessage-deflate; server_max_window_bits=15")}, append([]string{"server_max_window_bits=15"}, noTakeover...)},
		// A window below 15 is honoured by compressing Huffman-only
		// (RFC 7692 §7.1.2.1): accepted, and the value echoed.
		{"server-bits-10", on, []string{ext("permessage-deflate; server_max_window_bits=10")}, append([]string{"server_max_window_bits=10"}, noTakeover...)},
		{"server-bits-8", on, []string{ext("permessage-deflate; server_max_window_bits=8; client_max_window_bits")}, append([]string{"server_max_window_bits=8"}, noTakeover...)},
		{"server-bits-7", on, []string{ext("permessage-deflate; server_max_window_bits=7")}, nil},
		{"server-bits-novalue", on, []string{ext("permessage-deflate; server_max_window_bits")}, nil},
		{"bits-16", on, []string{ext("permessage-deflate; client_max_window_bits=16")}, nil},
		{"bits-leading-zero", on, []string{ext("permessage-deflate; client_max_window_bits=09")}, nil},
		{"unknown-param", on, []string{ext("permessage-deflate; mystery")}, nil},
		{"duplicate-param", on, []string{ext("permessage-deflate; client_no_context_takeover; client_no_context_takeover")}, nil},
		{"takeover-with-value", on, []string{ext("permessage-deflate; server_no_context_takeover=1")}, nil},
		// Several offers: the first the server can honour wins.
		{"offers/second", on, []string{ext("permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits")}, noTakeover},
		{"offers/first-small", on, []string{ext("permessage-deflate; server_max_window_bits=10, permessage-deflate")}, append([]string{"server_max_window_bits=10"}, noTakeover...)},
		{"offers/first", on, []string{ext("permessage-deflate; server_max_window_bits=15, permessage-deflate")}, append([]string{"server_max_window_bits=15"}, noTakeover...)},
		{"offers/two-fields", on, []string{ext("permessage-deflate; server_max_window_bits=16"), ext("permessage-deflate; client_no_context_takeover")}, noTakeover},
		{"offers/other-extension", on, []string{ext("x-webkit-deflate-frame, permessage-deflate")}, noTakeover},
		{"offers/none-usable", on, []string{ext("permessage-deflate; server_max_window_bits=7, x-foo")}, nil},
		{"offers/case", on, []string{ext("PerMessage-Deflate")}, nil}, // names are matched exactly
		{"no-offer", on, nil, nil},
		{"server-off", off, []string{ext("permessage-deflate")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, got := dialExt(t, tc.addr, tc.header...)
			expectDeflateAnswer(t, got, tc.want)
			// The connection works either way: compressed messages when
			// accepted, plain ones otherwise.
			p := repeatTo("negotiated? ", 1000)
			if tc.want != nil {
				c.mustWrite(compressedFrames(ws.OpText, deflatePayload(p, 6), 0, true))
				op, data, compressed, err := readDeflated(c, readTimeout)
				if err != nil || op != ws.OpText || !bytes.Equal(data, p) || !compressed {
					t.Fatalf("echo: %s compressed=%v %s, %v", opName(op), compressed, short(data), err)
				}
			} else {
				c.mustWrite(encode(true, 0, ws.OpText, p))
				c.expectMessage(ws.OpText, p, readTimeout)
			}
			c.closeNormally()
		})
	}
}

// TestCompressConn checks Conn.Compressed on both sides of the negotiation.
func TestCompressConn(t *testing.T) {
	h := newEdgeHandler()
	_, addr := startAPI(t, h, server.WithCompression(1, 0))
	for _, tc := range []struct {
		id     string
		header []string
		want   bool
	}{{"on", []string{offerDeflate}, true}, {"off", nil, false}} {
		res := handshake(t, addr, hsReq{target: "/ws?id=" + tc.id, header: tc.header})
		upgraded(t, res)
		if got := h.waitOpen(t, tc.id).compressed; got != tc.want {
			t.Errorf("%s: Compressed() = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------------------
// Echoes (Autobahn 12.x and 13.x)

// compressSizes are the message sizes echoed.
var compressSizes = []int{0, 1, 16, 64, 128, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20}

// corpus returns n bytes of one kind of content.
func corpus(kind string, n int) (ws.OpCode, []byte) {
	switch kind {
	case "text-repetitive":
		p := repeatTo(`{"user":"alice","op":"move","x":12,"y":-3,"tags":["a","bc"]} κόσμε `, n)
		// Do not end inside a multi-byte character.
		for i := len(p) - 1; !utf8.Valid(p); i-- {
			p[i] = '.'
		}
		return ws.OpText, p
	case "text-random":
		return ws.OpText, randomText(n)
	default:
		return ws.OpBinary, randomBinary(n)
	}
}

// fragSizes are the frame sizes a compressed message is split into (0:
// one frame). Tiny frames only for short messages, to stay quick.
func fragSizes(compressedLen int) []int {
	fs := []int{0, 64 << 10}
	if compressedLen <= 256<<10 {
		fs = append(fs, 256)
	}
	if compressedLen <= 4<<10 {
		fs = append(fs, 1, 7)
	}
	return fs
}

func TestCompressEcho(t *testing.T) {
	servers := []struct {
		name    string
		opts    []server.Option
		min     int // echoes at least this long come compressed
		maxSize int // the largest message echoed
	}{
		{"level1-min256", []server.Option{server.WithCompression(1, 0)}, 256, 1 << 20},
		// Slower levels with the sizes up to 128 KiB.
		{"level9-all", []server.Option{server.WithCompression(9, -1)}, 0, 128 << 10},
		{"level6-min1k", []server.Option{server.WithCompression(6, 1024)}, 1024, 128 << 10},
	}
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			_, addr := startServer(t, append(sv.opts, server.WithMaxMessageSize(2<<20))...)
			for _, kind := range []string{"text-repetitive", "text-random", "binary-random"} {
				t.Run(kind, func(t *testing.T) {
					t.Parallel()
					c, ext := dialExt(t, addr, offerDeflate)
					expectDeflateAnswer(t, ext, noTakeover)
					var wire, raw int
					for _, n := range compressSizes {
						if n > sv.maxSize {
							break
						}
						op, p := corpus(kind, n)
						cp := deflatePayload(p, 6)
						for _, fs := range fragSizes(len(cp)) {
							// Compressed by the client, and (whole) not.
							msgs := []struct {
								payload    []byte
								compressed bool
							}{{cp, true}}
							if fs == 0 {
								msgs = append(msgs, struct {
									payload    []byte
									compressed bool
								}{p, false})
							}
							for _, m := range msgs {
								go c.write(compressedFrames(op, m.payload, fs, m.compressed))
								gotOp, got, compressed, err := readDeflated(c, largeTimeout)
								if err != nil {
									t.Fatalf("%d bytes, frames of %d, compressed=%v: %v", n, fs, m.compressed, err)
								}
								if gotOp != op || !bytes.Equal(got, p) {
									t.Fatalf("%d bytes, frames of %d: echo is %s %s, want %s %s", n, fs, opName(gotOp), short(got), opName(op), short(p))
								}
								if want := n >= sv.min; compressed != want {
									t.Fatalf("%d-byte echo with RSV1=%v, want %v (min %d)", n, compressed, want, sv.min)
								}
							}
						}
						wire += len(cp)
						raw += n
					}
					t.Logf("client compression: %d bytes -> %d", raw, wire)
					c.closeNormally()
				})
			}
		})
	}
}

// TestCompressBurst pipelines many messages, compressed and not, in one
// write, as Autobahn's category 12 does: every one is decompressed with
// fresh state and echoed in order.
func TestCompressBurst(t *testing.T) {
	_, addr := startServer(t, server.WithCompression(1, 64))
	c, ext := dialExt(t, addr, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits")
	expectDeflateAnswer(t, ext, noTakeover)
	const n = 500
	var want [][]byte
	var burst []byte
	for i := range n {
		op, p := corpus([]string{"text-repetitive", "text-random", "binary-random"}[i%3], 16+(i*37)%4000)
		if op == ws.OpText {
			p = append([]byte(strconv.Itoa(i)+":"), p...)
		}
		want = append(want, p)
		if i%4 == 3 {
			burst = append(burst, encode(true, 0, op, p)...)
		} else {
			burst = append(burst, compressedFrames(op, deflatePayload(p, i%10), (i%5)*64, true)...)
		}
	}
	go c.write(burst)
	for i := range n {
		_, got, compressed, err := readDeflated(c, largeTimeout)
		if err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("echo %d: %s, want %s", i, short(got), short(want[i]))
		}
		if compressed != (len(want[i]) >= 64) {
			t.Fatalf("echo %d of %d bytes: RSV1=%v", i, len(want[i]), compressed)
		}
	}
	c.closeNormally()
}

// TestCompressControlInterleaved: pings between the fragments of a
// compressed message are answered at once, uncompressed.
func TestCompressControlInterleaved(t *testing.T) {
	_, addr := startServer(t, server.WithCompression(1, 0))
	c, _ := dialExt(t, addr, offerDeflate)
	p := repeatTo("fragmented and interrupted ", 3000)
	cp := deflatePayload(p, 1)
	third := len(cp) / 3
	c.mustWrite(encode(false, rsv1, ws.OpText, cp[:third]))
	c.mustWrite(encode(true, 0, ws.OpPing, []byte("p1")))
	c.expectControl(ws.OpPong, []byte("p1"))
	c.mustWrite(encode(false, 0, ws.OpContinuation, cp[third:2*third]))
	c.mustWrite(encode(true, 0, ws.OpPing, []byte("p2")))
	c.expectControl(ws.OpPong, []byte("p2"))
	c.mustWrite(encode(true, 0, ws.OpContinuation, cp[2*third:]))
	_, got, compressed, err := readDeflated(c, readTimeout)
	if err != nil || !bytes.Equal(got, p) || !compressed {
		t.Fatalf("echo: %s compressed=%v, %v", short(got), compressed, err)
	}
	c.closeNormally()
}

// ---------------------------------------------------------------------------
// Protocol errors

func TestCompressErrors(t *testing.T) {
	_, on := startServer(t, server.WithCompression(1, 0), server.WithCloseTimeout(time.Second))
	_, off := startServer(t, server.WithCloseTimeout(time.Second))
	valid := deflatePayload([]byte("hello, compressed world"), 6)
	badUTF8 := deflatePayload([]byte("valid prefix \xce\xba then \xff\xfe invalid"), 6)
	truncated := deflatePayload(repeatTo("abcdefgh", 4096), 0) // level 0: one stored block
	truncated = truncated[:len(truncated)/2]
	cases := []struct {
		name   string
		addr   string
		offer  bool
		frames [][]byte
		code   int
	}{
		{"rsv1-ping", on, true, [][]byte{encode(true, rsv1, ws.OpPing, nil)}, 1002},
		{"rsv1-pong", on, true, [][]byte{encode(true, rsv1, ws.OpPong, []byte("x"))}, 1002},
		{"rsv1-close", on, true, [][]byte{encode(true, rsv1, ws.OpClose, closePayload(1000, ""))}, 1002},
		{"rsv1-continuation", on, true, [][]byte{
			encode(false, 0, ws.OpText, []byte("plain start ")),
			encode(true, rsv1, ws.OpContinuation, valid),
		}, 1002},
		{"rsv1-both-frames", on, true, [][]byte{
			encode(false, rsv1, ws.OpText, valid[:4]),
			encode(true, rsv1, ws.OpContinuation, valid[4:]),
		}, 1002},
		{"rsv2-compressed", on, true, [][]byte{encode(true, ws.Rsv(false, true, false), ws.OpText, valid)}, 1002},
		{"rsv3-compressed", on, true, [][]byte{encode(true, ws.Rsv(false, false, true), ws.OpText, valid)}, 1002},
		{"rsv1-not-offered", on, false, [][]byte{encode(true, rsv1, ws.OpText, valid)}, 1002},
		{"rsv1-server-off", off, true, [][]byte{encode(true, rsv1, ws.OpText, valid)}, 1002},
		// codec.ErrInvalidCompressedData: 1007.
		{"garbage", on, true, [][]byte{encode(true, rsv1, ws.OpBinary, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})}, 1007},
		{"reserved-block-type", on, true, [][]byte{encode(true, rsv1, ws.OpBinary, []byte{0x06, 0x00})}, 1007},
		{"stored-length-mismatch", on, true, [][]byte{encode(true, rsv1, ws.OpBinary, []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'a'})}, 1007},
		{"truncated", on, true, [][]byte{encode(true, rsv1, ws.OpBinary, truncated)}, 1007},
		{"invalid-utf8", on, true, [][]byte{encode(true, rsv1, ws.OpText, badUTF8)}, 1007},
		{"invalid-utf8-fragmented", on, true, [][]byte{compressedFrames(ws.OpText, badUTF8, 3, true)}, 1007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hdr []string
			if tc.offer {
				hdr = append(hdr, offerDeflate)
			}
			c, _ := dialExt(t, tc.addr, hdr...)
			// A good message first: the connection is healthy until the bad one.
			good := []byte("fine so far")
			c.mustWrite(encode(true, 0, ws.OpText, good))
			if _, got, _, err := readDeflated(c, readTimeout); err != nil || !bytes.Equal(got, good) {
				t.Fatalf("echo before the bad frame: %q, %v", got, err)
			}
			for _, f := range tc.frames {
				if err := c.write(f); err != nil {
					break
				}
			}
			c.expectClose(tc.code)
			assertAlive(t, tc.addr)
		})
	}
}

// TestCompressEmpty: an empty compressed payload and the deflate of an
// empty message both stand for an empty message.
func TestCompressEmpty(t *testing.T) {
	_, addr := startServer(t, server.WithCompression(1, -1))
	c, _ := dialExt(t, addr, offerDeflate)
	for _, payload := range [][]byte{nil, deflatePayload(nil, 1)} {
		c.mustWrite(encode(true, rsv1, ws.OpText, payload))
		op, got, compressed, err := readDeflated(c, readTimeout)
		if err != nil || op != ws.OpText || len(got) != 0 || !compressed {
			t.Fatalf("payload %x: echo %s %q compressed=%v, %v", payload, opName(op), got, compressed, err)
		}
	}
	c.closeNormally()
}

// zeroBomb returns a permessage-deflate payload that inflates to n zero
// bytes (n a multiple of 1 MiB): the sync-flushed deflate of 1 MiB of
// zeros, repeated. Each piece ends on a byte boundary and refers to
// nothing before it, so the pieces make one valid stream, at deflate's
// best ratio of about 1:1000.
func zeroBomb(n int) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(make([]byte, 1<<20))
	_ = fw.Flush()
	return bytes.TrimSuffix(bytes.Repeat(buf.Bytes(), n>>20), flateTailBytes)
}

func TestCompressBomb(t *testing.T) {
	cases := []struct {
		name    string
		limit   int64
		inflate int
		frag    int
	}{
		{"64MiB", 1 << 20, 64 << 20, 0},
		{"512MiB", 1 << 20, 512 << 20, 0},
		{"512MiB-fragmented", 1 << 20, 512 << 20, 64 << 10},
		// 1 GiB takes about 1.04 MB compressed, over a 1 MiB limit, which
		// bounds the compressed size too: the server is given 2 MiB.
		{"1GiB", 2 << 20, 1 << 30, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, server.WithCompression(1, 0), server.WithMaxMessageSize(tc.limit), server.WithCloseTimeout(time.Second))
			bomb := compressedFrames(ws.OpBinary, zeroBomb(tc.inflate), tc.frag, true)
			c, _ := dialExt(t, addr, offerDeflate)
			c.noCloseReply = true
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			go c.write(bomb)
			c.expectClose(1009)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			held := int64(heapInUseAfterGC()) - int64(before.HeapInuse)
			t.Logf("%d-byte bomb inflating to %d: %.1f MiB allocated meanwhile, heap in use %+.1f MiB after",
				len(bomb), tc.inflate, float64(allocated)/(1<<20), float64(held)/(1<<20))
			// Inflating stops at the limit: what the whole process
			// allocated meanwhile (the bomb itself, the frame buffers,
			// at most the limit of output twice over as it grows) is
			// far below what the bomb expands to.
			if allocated > 64<<20 {
				t.Errorf("%.1f MiB allocated while refusing the bomb", float64(allocated)/(1<<20))
			}
			if held > 16<<20 {
				t.Errorf("heap in use grew by %.1f MiB", float64(held)/(1<<20))
			}
			assertAlive(t, addr)
		})
	}
}

// ---------------------------------------------------------------------------
// Idle memory

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// idleConn opens a connection, has one 1 KiB message echoed (compressed
// both ways when deflate is set, so the server's compressor and
// decompressor have been used) and leaves it idle. The client keeps only
// the net.Conn: no bufio.Reader, so the heap measures the server.
func idleConn(addr string, deflate bool, msg []byte, buf []byte) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, readTimeout)
	if err != nil {
		return nil, err
	}
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if deflate {
		req += offerDeflate + "\r\n"
	}
	conn.SetDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write(append([]byte(req+"\r\n"), msg...)); err != nil {
		conn.Close()
		return nil, err
	}
	// The 101, then one frame (a short header: the echo is < 64 KiB).
	n := 0
	for {
		k, err := conn.Read(buf[n:])
		if err != nil {
			conn.Close()
			return nil, err
		}
		n += k
		end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		head := buf[:end]
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) || bytes.Contains(head, []byte("permessage-deflate")) != deflate {
			conn.Close()
			return nil, fmt.Errorf("upgrade response %q", head)
		}
		rest := buf[end+4 : n]
		if len(rest) >= 2 {
			hl, length := 2, int(rest[1]&0x7f)
			if length == 126 && len(rest) >= 4 {
				hl, length = 4, int(rest[2])<<8|int(rest[3])
			}
			if length < 126 || hl == 4 {
				if len(rest) >= hl+length {
					if (rest[0]&0x40 != 0) != deflate {
						conn.Close()
						return nil, fmt.Errorf("echo frame %x: RSV1 not as negotiated", rest[:2])
					}
					break
				}
			}
		}
		if n == len(buf) {
			conn.Close()
			return nil, errors.New("response too long")
		}
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// liveHeapAfterGC is the bytes of live heap objects (HeapAlloc) after
// collecting twice. Unlike HeapInuse, which counts whole spans, it does not
// move by a page when one more object of a size class is kept.
func liveHeapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleHeapPerConn opens n idle connections and returns the live heap per
// connection, and the connections.
func idleHeapPerConn(t *testing.T, addr string, deflate bool, n int) (float64, []net.Conn) {
	t.Helper()
	p := repeatTo("idle connections should hold nothing ", 1<<10)
	msg := encode(true, 0, ws.OpText, p)
	if deflate {
		msg = encode(true, rsv1, ws.OpText, deflatePayload(p, 1))
	}
	buf := make([]byte, 4096)
	base := liveHeapAfterGC()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := idleConn(addr, deflate, msg, buf)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	held := liveHeapAfterGC()
	return (float64(held) - float64(base)) / float64(n), conns
}

// TestCompressIdleMemory: with permessage-deflate negotiated, an idle
// connection holds no compressor or decompressor, so it costs what an
// uncompressed one does (within 10%).
func TestCompressIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 8000 connections")
	}
	const n = 2000
	// Rounds alternate, each against a fresh server that is shut down
	// before the next one starts, so that no other server's memory is
	// freed during a measurement. The median of each kind counts. The
	// figures are as steady under the race detector, only slower to get.
	rounds := 3
	if raceEnabled() {
		rounds = 1
	}
	var perPlain, perDefl []float64
	for range rounds {
		for _, k := range []struct {
			deflate bool
			out     *[]float64
		}{{false, &perPlain}, {true, &perDefl}} {
			var opts []server.Option
			if k.deflate {
				opts = append(opts, server.WithCompression(1, 0))
			}
			srv, addr := startServer(t, opts...)
			per, conns := idleHeapPerConn(t, addr, k.deflate, n)
			*k.out = append(*k.out, per)
			if got := srv.Connections(); got != n {
				t.Errorf("server holds %d connections, want %d", got, n)
			}
			for _, c := range conns {
				c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}
	}
	median := func(v []float64) float64 { return slices.Sorted(slices.Values(v))[len(v)/2] }
	p, d := median(perPlain), median(perDefl)
	t.Logf("heap per idle connection (client and server side, %d of each): uncompressed %.0f B %v, compressed %.0f B %v (%+.1f%%)",
		n, p, perPlain, d, perDefl, 100*(d-p)/p)
	if d > 1.10*p {
		t.Errorf("an idle compressed connection costs %.0f B, more than 110%% of an uncompressed one's %.0f B", d, p)
	}
}
