package codec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// Client frame builders, using gobwas/ws as the reference encoder.

func maskFor(op ws.OpCode, p []byte) [4]byte {
	return [4]byte{byte(len(p)), 0xa5, byte(op) | 0x40, byte(len(p) >> 8)}
}

func frameRsv(fin bool, op ws.OpCode, rsv byte, payload string) []byte {
	f := ws.NewFrame(op, fin, []byte(payload))
	f.Header.Rsv = rsv
	f = ws.MaskFrameWith(f, maskFor(op, f.Payload))
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, f); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func frame(fin bool, op ws.OpCode, payload string) []byte { return frameRsv(fin, op, 0, payload) }
func text(s string) []byte                                { return frame(true, ws.OpText, s) }
func binFrame(s string) []byte                            { return frame(true, ws.OpBinary, s) }
func cont(fin bool, s string) []byte                      { return frame(fin, ws.OpContinuation, s) }
func ping(s string) []byte                                { return frame(true, ws.OpPing, s) }
func pong(s string) []byte                                { return frame(true, ws.OpPong, s) }
func closeFrame(body string) []byte                       { return frame(true, ws.OpClose, body) }

func unmaskedFrame(fin bool, op ws.OpCode, payload string) []byte {
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, ws.NewFrame(op, fin, []byte(payload))); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func closeBody(code ws.StatusCode, reason string) string {
	return string([]byte{byte(code >> 8), byte(code)}) + reason
}

// rawHeader encodes a masked header with an arbitrary declared length and no
// payload, for limit tests.
func rawHeader(fin bool, op ws.OpCode, length int64) []byte {
	return AppendHeader(nil, ws.Header{Fin: fin, OpCode: op, Length: length, Masked: true, Mask: [4]byte{1, 2, 3, 4}})
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// result is one event as observed by a caller of Decoder.
type result struct {
	ev         Event
	op         ws.OpCode
	data       string
	compressed bool
	code       ws.StatusCode
}

func (r result) String() string {
	data := r.data
	if len(data) > 40 {
		data = fmt.Sprintf("%q...(%d bytes)", data[:40], len(data))
	} else {
		data = fmt.Sprintf("%q", data)
	}
	return fmt.Sprintf("{%v op=%v %s z=%v code=%d}", r.ev, r.op, data, r.compressed, r.code)
}

func msg(op ws.OpCode, s string) result       { return result{ev: EventMessage, op: op, data: s} }
func pingR(s string) result                   { return result{ev: EventPing, data: s} }
func pongR(s string) result                   { return result{ev: EventPong, data: s} }
func closeR(c ws.StatusCode, r string) result { return result{ev: EventClose, code: c, data: r} }

// feed runs a fresh Decoder over input delivered in chunks ending at the
// given cut offsets, the way gnet delivers it: unconsumed bytes are kept and
// the next chunk is appended after them. Every call gets a freshly copied
// buffer and the previous one is clobbered, so a Decoder that retained its
// input would be caught.
func feed(tb testing.TB, cfg DecoderConfig, input []byte, cuts []int) ([]result, error) {
	tb.Helper()
	d := NewDecoder(cfg)
	defer d.Reset()
	var (
		results []result
		pending []byte
		prev    int
	)
	for _, cut := range cuts {
		next := make([]byte, len(pending)+cut-prev)
		copy(next[copy(next, pending):], input[prev:cut])
		clobber(pending)
		pending, prev = next, cut
		for {
			n, ev, err := d.Decode(pending)
			if n < 0 || n > len(pending) {
				tb.Fatalf("Decode returned n=%d for %d bytes", n, len(pending))
			}
			clobber(pending[:n])
			pending = pending[n:]
			if err != nil {
				if _, ok := err.(*CloseError); !ok {
					tb.Fatalf("error %T %v is not a *CloseError", err, err)
				}
				if !d.Idle() {
					tb.Fatal("failed decoder still holds a buffer")
				}
				if n2, _, err2 := d.Decode(pending); n2 != 0 || err2 != err {
					tb.Fatalf("Decode after failure = %d, %v; want 0, %v", n2, err2, err)
				}
				return results, err
			}
			if ev == EventMore {
				if len(pending) >= ws.MaxHeaderSize+ws.MaxControlFramePayloadSize {
					tb.Fatalf("decoder left %d bytes unconsumed", len(pending))
				}
				break
			}
			if n == 0 {
				tb.Fatalf("event %v consumed nothing", ev)
			}
			results = append(results, observe(tb, d, ev))
		}
	}
	return results, nil
}

func observe(tb testing.TB, d *Decoder, ev Event) result {
	tb.Helper()
	r := result{ev: ev}
	switch ev {
	case EventMessage:
		if d.Idle() {
			tb.Fatal("Idle with a message ready")
		}
		op, buf, compressed := d.TakeMessage()
		if buf == nil {
			tb.Fatal("TakeMessage returned a nil buffer")
		}
		r.op, r.data, r.compressed = op, string(buf.B), compressed
		PutBuffer(buf)
		if _, again, _ := d.TakeMessage(); again != nil {
			tb.Fatal("TakeMessage returned the message twice")
		}
	case EventPing, EventPong:
		r.data = string(d.Control())
	case EventClose:
		r.code, r.data = d.CloseCode(), string(d.CloseReason())
	default:
		tb.Fatalf("unexpected event %v", ev)
	}
	return r
}

func clobber(b []byte) {
	for i := range b {
		b[i] = 0xcc
	}
}

type decoderCase struct {
	name    string
	cfg     DecoderConfig
	input   []byte
	want    []result
	wantErr error
}

func decoderCases() []decoderCase {
	const (
		txt = ws.OpText
		bin = ws.OpBinary
	)
	rsv1 := ws.Rsv(true, false, false)
	long := strings.Repeat("0123456789abcdef", 20) // 320 bytes: 16-bit length
	utf := "héllo wörld 日本語 😀"
	euro := "\xe2\x82\xac"
	comp := DecoderConfig{Compression: true}
	small := DecoderConfig{MaxMessageSize: 10}
	return []decoderCase{
		// Well-formed streams.
		{name: "text", input: text("hello"), want: []result{msg(txt, "hello")}},
		{name: "binary", input: binFrame("\x00\xff\x80"), want: []result{msg(bin, "\x00\xff\x80")}},
		{name: "empty text", input: text(""), want: []result{msg(txt, "")}},
		{name: "empty binary", input: binFrame(""), want: []result{msg(bin, "")}},
		{name: "16-bit length", input: text(long), want: []result{msg(txt, long)}},
		{name: "utf8 text", input: text(utf), want: []result{msg(txt, utf)}},
		{name: "back to back", input: cat(text("a"), binFrame("b"), text("")), want: []result{msg(txt, "a"), msg(bin, "b"), msg(txt, "")}},
		{name: "fragmented", input: cat(frame(false, txt, "hel"), cont(false, "lo "), cont(true, "world")), want: []result{msg(txt, "hello world")}},
		{name: "fragmented empty parts", input: cat(frame(false, bin, ""), cont(false, ""), cont(false, "x"), cont(true, "")), want: []result{msg(bin, "x")}},
		{name: "ping between fragments", input: cat(frame(false, txt, "a"), ping("p1"), cont(false, "b"), pong("p2"), cont(true, "c")),
			want: []result{pingR("p1"), pongR("p2"), msg(txt, "abc")}},
		{name: "close between fragments", input: cat(frame(false, bin, "a"), closeFrame(closeBody(1000, "bye"))), want: []result{closeR(1000, "bye")}},
		{name: "ping max", input: ping(strings.Repeat("p", 125)), want: []result{pingR(strings.Repeat("p", 125))}},
		{name: "pong empty", input: pong(""), want: []result{pongR("")}},
		{name: "close empty", input: closeFrame(""), want: []result{closeR(0, "")}},
		{name: "close 1000 reason", input: closeFrame(closeBody(1000, "bye")), want: []result{closeR(1000, "bye")}},
		{name: "close 1014", input: closeFrame(closeBody(1014, "")), want: []result{closeR(1014, "")}},
		{name: "close 3000", input: closeFrame(closeBody(3000, "app")), want: []result{closeR(3000, "app")}},
		{name: "close 4999 utf8", input: closeFrame(closeBody(4999, "ünï")), want: []result{closeR(4999, "ünï")}},
		{name: "close max reason", input: closeFrame(closeBody(1001, strings.Repeat("r", 123))), want: []result{closeR(1001, strings.Repeat("r", 123))}},
		{name: "rune split across fragments", input: cat(frame(false, txt, "a\xe2"), cont(false, "\x82"), cont(true, "\xacb")), want: []result{msg(txt, "a"+euro+"b")}},
		{name: "4-byte rune split", input: cat(frame(false, txt, "\xf0\x9f"), ping(""), cont(true, "\x98\x80")), want: []result{pingR(""), msg(txt, "😀")}},
		{name: "binary is not utf8 checked", input: binFrame("\xff\xfe"), want: []result{msg(bin, "\xff\xfe")}},
		{name: "at size limit", cfg: small, input: cat(frame(false, txt, "01234"), cont(true, "56789")), want: []result{msg(txt, "0123456789")}},
		{name: "limit is per message", cfg: small, input: cat(text("0123456789"), text("0123456789")), want: []result{msg(txt, "0123456789"), msg(txt, "0123456789")}},
		{name: "compressed first frame", cfg: comp, input: frameRsv(true, txt, rsv1, "\xff\x00"), want: []result{{ev: EventMessage, op: txt, data: "\xff\x00", compressed: true}}},
		{name: "compressed fragmented", cfg: comp, input: cat(frameRsv(false, bin, rsv1, "\x01"), ping("x"), cont(true, "\x02")),
			want: []result{pingR("x"), {ev: EventMessage, op: bin, data: "\x01\x02", compressed: true}}},
		{name: "uncompressed with extension", cfg: comp, input: text(utf), want: []result{msg(txt, utf)}},

		// Protocol errors.
		{name: "unmasked", input: unmaskedFrame(true, txt, "hi"), wantErr: ErrUnmaskedFrame},
		{name: "unmasked after message", input: cat(text("ok"), unmaskedFrame(true, ws.OpPing, "")), want: []result{msg(txt, "ok")}, wantErr: ErrUnmaskedFrame},
		{name: "rsv1 without extension", input: frameRsv(true, txt, rsv1, "x"), wantErr: ErrReservedBits},
		{name: "rsv3 without extension", input: frameRsv(true, bin, ws.Rsv(false, false, true), "x"), wantErr: ErrReservedBits},
		{name: "rsv2 with extension", cfg: comp, input: frameRsv(true, bin, ws.Rsv(false, true, false), "x"), wantErr: ErrReservedBits},
		{name: "rsv1 on continuation", cfg: comp, input: cat(frameRsv(false, txt, rsv1, "a"), frameRsv(true, ws.OpContinuation, rsv1, "b")), wantErr: ErrReservedBits},
		{name: "rsv1 on ping", cfg: comp, input: frameRsv(true, ws.OpPing, rsv1, ""), wantErr: ErrReservedBits},
		{name: "opcode 3", input: frame(true, 3, ""), wantErr: ErrReservedOpcode},
		{name: "opcode 7", input: frame(true, 7, "x"), wantErr: ErrReservedOpcode},
		{name: "opcode B", input: frame(true, 0xb, ""), wantErr: ErrReservedOpcode},
		{name: "opcode F", input: frame(true, 0xf, "x"), wantErr: ErrReservedOpcode},
		{name: "ping 126 bytes", input: ping(strings.Repeat("p", 126)), wantErr: ErrControlTooLong},
		{name: "close 64-bit length", input: rawHeader(true, ws.OpClose, 1<<40), wantErr: ErrControlTooLong},
		{name: "ping not fin", input: frame(false, ws.OpPing, ""), wantErr: ErrControlFragmented},
		{name: "continuation first", input: cont(true, "x"), wantErr: ErrUnexpectedContinuation},
		{name: "continuation after complete", input: cat(text("a"), cont(true, "b")), want: []result{msg(txt, "a")}, wantErr: ErrUnexpectedContinuation},
		{name: "text inside fragmented", input: cat(frame(false, txt, "a"), text("b")), wantErr: ErrExpectedContinuation},
		{name: "binary inside fragmented", input: cat(frame(false, bin, "a"), ping(""), frame(false, bin, "b")), want: []result{pingR("")}, wantErr: ErrExpectedContinuation},
		{name: "too big single", cfg: small, input: text("0123456789A"), wantErr: ErrMessageTooBig},
		{name: "too big fragmented", cfg: small, input: cat(frame(false, bin, "012345"), ping("x"), cont(true, "6789A")), want: []result{pingR("x")}, wantErr: ErrMessageTooBig},
		{name: "2^62 declared", input: rawHeader(true, bin, 1<<62), wantErr: ErrMessageTooBig},
		{name: "max int64 declared", input: rawHeader(false, txt, 1<<63-1), wantErr: ErrMessageTooBig},
		{name: "length msb", input: []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, wantErr: ErrInvalidFrameLength},
		{name: "invalid utf8", input: text("ab\xffcd"), wantErr: ErrInvalidUTF8},
		{name: "invalid utf8 in first fragment", input: cat(frame(false, txt, "a\xc0\x80"), cont(false, "b"), cont(true, "c")), wantErr: ErrInvalidUTF8},
		{name: "invalid utf8 first fragment alone", input: frame(false, txt, "\xed\xa0\x80"), wantErr: ErrInvalidUTF8},
		{name: "bad continuation across fragments", input: cat(frame(false, txt, "\xe2\x82"), cont(true, "a")), wantErr: ErrInvalidUTF8},
		{name: "above U+10FFFF split", input: cat(frame(false, txt, "\xf4"), cont(true, "\x90\x80\x80")), wantErr: ErrInvalidUTF8},
		{name: "incomplete rune at fin", input: cat(frame(false, txt, "ok"), cont(true, "\xe2\x82")), wantErr: ErrInvalidUTF8},
		{name: "incomplete rune single frame", input: text("\xf0\x9f\x98"), wantErr: ErrInvalidUTF8},
		{name: "close 1 byte", input: closeFrame("\x03"), wantErr: ErrInvalidClosePayload},
		{name: "close 999", input: closeFrame(closeBody(999, "")), wantErr: ErrInvalidCloseCode},
		{name: "close 1005", input: closeFrame(closeBody(1005, "")), wantErr: ErrInvalidCloseCode},
		{name: "close 1006", input: closeFrame(closeBody(1006, "")), wantErr: ErrInvalidCloseCode},
		{name: "close 1015", input: closeFrame(closeBody(1015, "")), wantErr: ErrInvalidCloseCode},
		{name: "close 2000", input: closeFrame(closeBody(2000, "")), wantErr: ErrInvalidCloseCode},
		{name: "close 5000", input: closeFrame(closeBody(5000, "")), wantErr: ErrInvalidCloseCode},
		{name: "close bad reason", input: closeFrame(closeBody(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")), wantErr: ErrInvalidCloseReason},
		{name: "compressed text not utf8 checked, plain text is", cfg: comp, input: cat(frameRsv(true, txt, rsv1, "\xff"), text("\xff")),
			want: []result{{ev: EventMessage, op: txt, data: "\xff", compressed: true}}, wantErr: ErrInvalidUTF8},
	}
}

// cutsWhole, cutsBytewise, cutsAt and cutsRandom produce chunk boundaries.
func cutsWhole(n int) []int { return []int{n} }

func cutsBytewise(n int) []int {
	cuts := make([]int, n)
	for i := range cuts {
		cuts[i] = i + 1
	}
	return cuts
}

func cutsAt(i, n int) []int { return []int{i, n} }

func cutsRandom(rng *rand.Rand, n, maxChunk int) []int {
	var cuts []int
	for pos := 0; pos < n; {
		pos += 1 + rng.IntN(maxChunk)
		pos = min(pos, n)
		cuts = append(cuts, pos)
	}
	return cuts
}

// checkSplits decodes tc.input whole, one byte at a time, with random
// chunkings and split at every single point, and requires the same results
// each time. To stay fast under -race, inputs over 4 KiB get sampled split
// points, and inputs over 1 MiB only a few chunkings plus every split inside
// the first header.
func checkSplits(t *testing.T, tc decoderCase, randomRuns int) {
	t.Helper()
	n := len(tc.input)
	check := func(how string, cuts []int) {
		t.Helper()
		got, err := feed(t, tc.cfg, tc.input, cuts)
		if err != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("%s:\n got %v, %v\nwant %v, %v", how, got, err, tc.want, tc.wantErr)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	var splits []int
	switch {
	case n <= 4096:
		for i := 1; i < n; i++ {
			splits = append(splits, i)
		}
	case n <= 1<<20:
		randomRuns = min(randomRuns, 50)
		for i := 1; i < 32; i++ {
			splits = append(splits, i, n-i, 1+rng.IntN(n-1))
		}
	default:
		randomRuns = 1
		splits = []int{1, 2, 9, ws.MaxHeaderSize - 1, n / 2, n - 1}
	}

	check("whole", cutsWhole(n))
	if n <= 1<<20 {
		check("bytewise", cutsBytewise(n))
	}
	for i := 0; i < randomRuns; i++ {
		maxChunk := 1 + rng.IntN(max(n/2, 1))
		check(fmt.Sprintf("random run %d", i), cutsRandom(rng, n, maxChunk))
	}
	for _, at := range splits {
		check(fmt.Sprintf("split at %d", at), cutsAt(at, n))
	}
}

func TestDecoder(t *testing.T) {
	for _, tc := range decoderCases() {
		t.Run(tc.name, func(t *testing.T) { checkSplits(t, tc, 200) })
	}
}

func TestDecoderLargeMessages(t *testing.T) {
	big := strings.Repeat("x", 16<<20)
	var utf strings.Builder
	for utf.Len() < 70000 {
		utf.WriteString("aé日😀")
	}
	u := utf.String()
	cases := []decoderCase{
		{name: "16 MiB binary", input: binFrame(big), want: []result{msg(ws.OpBinary, big)}},
		{name: "16 MiB + 1 fragmented", input: cat(frame(false, ws.OpBinary, big[:1<<20]), cont(true, big[:15<<20+1])), wantErr: ErrMessageTooBig},
		{name: "64-bit length utf8 text", input: text(u), want: []result{msg(ws.OpText, u)}},
		{name: "utf8 text fragmented mid-rune", input: cat(frame(false, ws.OpText, u[:30001]), cont(false, u[30001:30002]), cont(true, u[30002:])), want: []result{msg(ws.OpText, u)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkSplits(t, tc, 200) })
	}
}

// TestDecoderUTF8FailsEarly feeds a text frame one byte at a time and
// requires the error exactly at the first invalid byte, long before FIN.
func TestDecoderUTF8FailsEarly(t *testing.T) {
	payload := strings.Repeat("é", 100) + "\xe0\x80" + strings.Repeat("a", 1000)
	input := text(payload)
	hdr := len(input) - len(payload)
	bad := hdr + strings.Index(payload, "\xe0") + 1 // the 0x80 after 0xe0
	d := NewDecoder(DecoderConfig{})
	var pending []byte
	for i := range input {
		pending = append(pending, input[i])
		n, _, err := d.Decode(pending)
		pending = pending[n:]
		if err != nil {
			if i != bad || err != ErrInvalidUTF8 {
				t.Fatalf("error %v at byte %d, want ErrInvalidUTF8 at %d", err, i, bad)
			}
			return
		}
	}
	t.Fatal("no error")
}

// TestDecoderHugeDeclaredLength checks that the limit is enforced before any
// buffer is allocated.
func TestDecoderHugeDeclaredLength(t *testing.T) {
	input := rawHeader(true, ws.OpBinary, 1<<62)
	d := NewDecoder(DecoderConfig{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := d.Decode(input)
	runtime.ReadMemStats(&after)
	if err != ErrMessageTooBig {
		t.Fatalf("err = %v", err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<10 {
		t.Fatalf("allocated %d bytes", grown)
	}
	if !d.Idle() {
		t.Fatal("decoder holds a buffer")
	}
	d.Reset()
	if a := testing.AllocsPerRun(100, func() {
		d.Reset()
		_, _, _ = d.Decode(input)
	}); a != 0 {
		t.Fatalf("allocs = %v", a)
	}
}

func TestDecoderZeroValue(t *testing.T) {
	var d Decoder
	n, ev, err := d.Decode(text("hi"))
	if n != 8 || ev != EventMessage || err != nil {
		t.Fatalf("Decode = %d, %v, %v", n, ev, err)
	}
	op, buf, _ := d.TakeMessage()
	if op != ws.OpText || string(buf.B) != "hi" {
		t.Fatalf("got %v %q", op, buf.B)
	}
	PutBuffer(buf)
	if _, _, err := d.Decode(rawHeader(true, ws.OpBinary, DefaultMaxMessageSize+1)); err != ErrMessageTooBig {
		t.Fatalf("default limit not applied: %v", err)
	}
}

func TestDecoderLifecycle(t *testing.T) {
	d := NewDecoder(DecoderConfig{MaxMessageSize: 100})
	if !d.Idle() {
		t.Fatal("new decoder not idle")
	}
	if op, buf, _ := d.TakeMessage(); op != 0 || buf != nil {
		t.Fatal("TakeMessage without a message")
	}

	// A partial data frame holds a buffer; Reset drops it.
	in := cat(frame(false, ws.OpText, "abc"))
	if n, ev, err := d.Decode(in[:len(in)-1]); n != len(in)-1 || ev != EventMore || err != nil {
		t.Fatalf("Decode = %d, %v, %v", n, ev, err)
	}
	if d.Idle() {
		t.Fatal("idle in the middle of a frame")
	}
	d.Reset()
	if !d.Idle() {
		t.Fatal("not idle after Reset")
	}
	if _, _, err := d.Decode(cont(true, "x")); err != ErrUnexpectedContinuation {
		t.Fatalf("Reset kept the fragmented state: %v", err)
	}

	// A failed decoder stays failed until Reset, and keeps its config.
	d.Reset()
	if _, _, err := d.Decode(rawHeader(true, ws.OpBinary, 101)); err != ErrMessageTooBig {
		t.Fatalf("Reset lost the config: %v", err)
	}
	d.Reset()

	// A message that is not taken is dropped by the next Decode.
	in = cat(text("one"), text("two"))
	n, ev, _ := d.Decode(in)
	if ev != EventMessage {
		t.Fatalf("ev = %v", ev)
	}
	if _, ev, _ = d.Decode(in[n:]); ev != EventMessage {
		t.Fatalf("ev = %v", ev)
	}
	if _, buf, _ := d.TakeMessage(); string(buf.B) != "two" {
		t.Fatalf("got %q", buf.B)
	}
	if !d.Idle() {
		t.Fatal("not idle between messages")
	}

	// Init applies a new config.
	d.Init(DecoderConfig{Compression: true})
	if _, ev, err := d.Decode(frameRsv(true, ws.OpBinary, ws.Rsv(true, false, false), "z")); ev != EventMessage || err != nil {
		t.Fatalf("Init did not enable compression: %v %v", ev, err)
	}
	if _, _, z := d.TakeMessage(); !z {
		t.Fatal("compressed flag lost")
	}
}

func TestDecoderControlValidUntilNextDecode(t *testing.T) {
	in := cat(ping("first"), ping("second"))
	d := NewDecoder(DecoderConfig{})
	n, ev, _ := d.Decode(in)
	if ev != EventPing || string(d.Control()) != "first" {
		t.Fatalf("%v %q", ev, d.Control())
	}
	clobber(in[:n])
	if string(d.Control()) != "first" {
		t.Fatal("Control aliases the input")
	}
	if _, ev, _ = d.Decode(in[n:]); ev != EventPing || string(d.Control()) != "second" {
		t.Fatalf("%v %q", ev, d.Control())
	}
}

func TestEventString(t *testing.T) {
	for ev, want := range map[Event]string{EventMore: "more", EventMessage: "message", EventPing: "ping", EventPong: "pong", EventClose: "close", 99: "unknown"} {
		if ev.String() != want {
			t.Errorf("%d.String() = %q", ev, ev.String())
		}
	}
	if got := ErrMessageTooBig.Error(); got != "websocket: message too big (1009)" {
		t.Errorf("Error() = %q", got)
	}
}

func BenchmarkDecode1KiBMasked(b *testing.B) {
	for _, op := range []ws.OpCode{ws.OpBinary, ws.OpText} {
		b.Run(map[ws.OpCode]string{ws.OpBinary: "binary", ws.OpText: "text"}[op], func(b *testing.B) {
			input := frame(true, op, strings.Repeat("a", 1024))
			d := NewDecoder(DecoderConfig{})
			b.ReportAllocs()
			b.SetBytes(1024)
			for b.Loop() {
				n, ev, err := d.Decode(input)
				if n != len(input) || ev != EventMessage || err != nil {
					b.Fatal(n, ev, err)
				}
				_, buf, _ := d.TakeMessage()
				bytebufferpool.Put(buf)
			}
		})
	}
}
