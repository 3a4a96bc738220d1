package codec

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"

	"github.com/gobwas/ws/wsflate"
)

// flateText returns n bytes of deterministic, JSON-like chat traffic: the
// kind of text permessage-deflate is negotiated for.
func flateText(n int, seed uint64) []byte {
	words := []string{"hello", "world", "the", "quick", "brown", "fox", "message",
		"room", "lobby", "typing", "online", "ok", "ack", "ping", "status", "ready"}
	rng := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, 0, n+128)
	for id := 0; len(b) < n; id++ {
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, `,"user":"u`...)
		b = strconv.AppendInt(b, int64(rng.IntN(50)), 10)
		b = append(b, `","text":"`...)
		for i := rng.IntN(12); i >= 0; i-- {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = append(b, `"}`...)
		b = append(b, '\n')
	}
	return b[:n]
}

// randomBytes returns n incompressible bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// refInflate decompresses a permessage-deflate payload with a fresh
// compress/flate reader, reading at most limit+1 bytes: the reference for
// Inflate.
func refInflate(p []byte, limit int64) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(flateTerminator[:]))
	return io.ReadAll(io.LimitReader(flate.NewReader(src), limit+1))
}

// clientDeflate compresses msg as a client would: a fresh Go flate writer,
// the message written in chunks of chunk bytes (with a sync flush after each
// one if flushEach), then a sync flush (or Close if final) and the 4-byte tail
// removed.
func clientDeflate(t testing.TB, msg []byte, level, chunk int, flushEach, final bool) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	for rest := msg; len(rest) > 0; {
		k := min(chunk, len(rest))
		if _, err := w.Write(rest[:k]); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
		if flushEach {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if final {
		err = w.Close()
	} else {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), flateTail[:])
}

var flateSizes = []int{0, 1, 2, 3, 4, 5, 17, 100, 258, 1000, 1 << 10, 4095, 32 << 10, 32<<10 + 1, 65535, 64 << 10, 100_000, 300_000}

func TestDeflateRoundTrip(t *testing.T) {
	for _, level := range []int{HuffmanOnly, -3, -1, 0, 1, 2, 5, 6, 9, 10} {
		for _, size := range flateSizes {
			if (level < 1 || level > 9) && level != HuffmanOnly && size > 1<<10 {
				continue // clamped to 1 or 9, covered below
			}
			for _, kind := range []string{"text", "random"} {
				t.Run(fmt.Sprintf("level%d/%d/%s", level, size, kind), func(t *testing.T) {
					msg := flateText(size, uint64(size))
					if kind == "random" {
						msg = randomBytes(size, uint64(size))
					}
					c := Deflate([]byte("prefix"), msg, level)
					if !bytes.HasPrefix(c, []byte("prefix")) {
						t.Fatal("dst prefix lost")
					}
					c = c[len("prefix"):]
					if len(c) == 0 || bytes.HasSuffix(c, flateTail[:]) {
						t.Fatalf("payload % x: empty or still ends with the sync tail", c[max(0, len(c)-8):])
					}

					got, err := Inflate([]byte("pre"), c, 0)
					if err != nil || string(got[:3]) != "pre" || !bytes.Equal(got[3:], msg) {
						t.Fatalf("Inflate: %d bytes, %v; want %d bytes", len(got)-3, err, len(msg))
					}

					// A plain flate reader given only the sync tail back
					// must deliver the whole message and then run out of
					// input: reaching io.EOF would mean a BFINAL block.
					fr := flate.NewReader(io.MultiReader(bytes.NewReader(c), bytes.NewReader(flateTail[:])))
					got, err = io.ReadAll(fr)
					if err != io.ErrUnexpectedEOF || !bytes.Equal(got, msg) {
						t.Fatalf("flate reader: %d bytes, %v; want %d bytes and io.ErrUnexpectedEOF", len(got), err, len(msg))
					}

					// gobwas/ws's own permessage-deflate reader.
					wr := wsflate.NewReader(bytes.NewReader(c), func(r io.Reader) wsflate.Decompressor {
						return flate.NewReader(r)
					})
					got, err = io.ReadAll(wr)
					if err != nil || !bytes.Equal(got, msg) {
						t.Fatalf("wsflate reader: %d bytes, %v", len(got), err)
					}
				})
			}
		}
	}
}

// TestDeflateNoContextTakeover checks that each message is compressed from
// fresh state: the same message always compresses to the same bytes, whatever
// was compressed before, and inflates on its own.
func TestDeflateNoContextTakeover(t *testing.T) {
	for _, level := range []int{HuffmanOnly, 1, 6, 9} {
		a, b := flateText(5000, 1), flateText(5000, 2)
		alone := Deflate(nil, b, level)
		for i := 0; i < 3; i++ {
			_ = Deflate(nil, a, level)
			_ = Deflate(nil, b, level) // b after a: would back-reference a with takeover
			if again := Deflate(nil, b, level); !bytes.Equal(again, alone) {
				t.Fatalf("level %d: message compressed differently after another message", level)
			}
		}
		if got, err := refInflate(alone, 1<<20); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("level %d: fresh reader: %v", level, err)
		}
	}
}

// TestInflateClientMessages inflates what clients send: Go flate writers at
// every kind of level, messages written in chunks of many sizes with and
// without intermediate sync flushes, and messages ended with a BFINAL block
// (tail stripped or not), as some Safari versions did.
func TestInflateClientMessages(t *testing.T) {
	levels := []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, 4, flate.DefaultCompression, flate.BestCompression}
	for _, level := range levels {
		for _, size := range flateSizes {
			msg := flateText(size, uint64(size)+100)
			chunks := []int{1 << 30}
			switch {
			case size <= 1<<10:
				chunks = append(chunks, 1, 7, 100)
			case size <= 64<<10:
				chunks = append(chunks, 4096)
			}
			for _, chunk := range chunks {
				for _, flushEach := range []bool{false, true} {
					if flushEach && chunk >= size {
						continue // the same as one final flush
					}
					for _, final := range []bool{false, true} {
						name := fmt.Sprintf("level%d/%d/chunk%d/flush=%v/final=%v", level, size, chunk, flushEach, final)
						c := clientDeflate(t, msg, level, chunk, flushEach, final)
						got, err := Inflate(nil, c, int64(size))
						if err != nil || !bytes.Equal(got, msg) {
							t.Fatalf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(msg))
						}
						if final {
							// The untouched Close output is also complete.
							full := append(c[:len(c):len(c)], flateTail[:]...)
							if got, err := Inflate(nil, full, 0); err != nil || !bytes.Equal(got, msg) {
								t.Fatalf("%s with tail: %d bytes, %v", name, len(got), err)
							}
						}
					}
				}
			}
		}
	}
}

// TestInflateIndependentMessages checks that Inflate keeps nothing between
// messages: consecutive messages decode on their own in any order, and a
// client that kept its compression context (ignoring
// client_no_context_takeover) is reported instead of decoded against the
// wrong history.
func TestInflateIndependentMessages(t *testing.T) {
	msgs := [][]byte{flateText(3000, 1), flateText(10, 2), flateText(3000, 1), randomBytes(500, 3), flateText(70_000, 4)}
	var payloads [][]byte
	for i, m := range msgs {
		payloads = append(payloads, clientDeflate(t, m, 1+i%9, 1<<30, false, false))
	}
	for round := 0; round < 2; round++ {
		for i := range payloads {
			j := i
			if round == 1 {
				j = len(payloads) - 1 - i
			}
			got, err := Inflate(nil, payloads[j], 0)
			if err != nil || !bytes.Equal(got, msgs[j]) {
				t.Fatalf("message %d: %d bytes, %v", j, len(got), err)
			}
		}
	}

	// Context takeover: the second identical message is almost only a
	// back-reference into the first.
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	m := flateText(2000, 9)
	_, _ = w.Write(m)
	_ = w.Flush()
	first := bytes.Clone(bytes.TrimSuffix(buf.Bytes(), flateTail[:]))
	buf.Reset()
	_, _ = w.Write(m)
	_ = w.Flush()
	second := bytes.TrimSuffix(buf.Bytes(), flateTail[:])
	if got, err := Inflate(nil, first, 0); err != nil || !bytes.Equal(got, m) {
		t.Fatalf("first message: %v", err)
	}
	if _, err := Inflate(nil, second, 0); err != ErrInvalidCompressedData {
		t.Fatalf("message relying on context takeover: err = %v, want ErrInvalidCompressedData", err)
	}
}

func TestInflateErrors(t *testing.T) {
	good := clientDeflate(t, flateText(10_000, 5), 6, 1<<30, false, false)
	stored := clientDeflate(t, []byte("stored block"), flate.NoCompression, 1<<30, false, false)
	// 12 good bytes, a complete sync flush, then a reserved block type.
	corruptLate := append(append(bytes.Clone(stored), flateTail[:]...), 0x07)
	for _, tc := range []struct {
		name string
		p    []byte
		max  int64
		want error
	}{
		{"reserved block type", []byte{0x07}, 0, ErrInvalidCompressedData},
		{"reserved block type final", []byte{0x06}, 0, ErrInvalidCompressedData},
		{"truncated", good[:len(good)/2], 0, ErrInvalidCompressedData},
		{"truncated stored block", stored[:len(stored)-3], 0, ErrInvalidCompressedData},
		{"stored length mismatch", []byte{0x00, 0x05, 0x00, 0xfa, 0xfe, 'h', 'e', 'l', 'l', 'o'}, 0, ErrInvalidCompressedData},
		{"reserved block type after data", corruptLate, 0, ErrInvalidCompressedData},
		{"sync tail not stripped twice", []byte{0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00}, 0, ErrInvalidCompressedData},
		{"too big", good, 9_999, ErrMessageTooBig},
		{"too big by far", good, 1, ErrMessageTooBig},
		{"corrupt after the limit", corruptLate, 5, ErrMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, 3, 8)
			copy(dst, "pre")
			got, err := Inflate(dst, tc.p, tc.max)
			if err != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if string(got) != "pre" {
				t.Fatalf("result %q, want dst unchanged", got)
			}
			var ce *CloseError
			if !errors.As(err, &ce) || (ce.Code != 1007 && ce.Code != 1009) {
				t.Fatalf("not a 1007/1009 CloseError: %v", err)
			}
		})
	}
}

func TestInflateLimit(t *testing.T) {
	msg := flateText(5000, 6)
	c := Deflate(nil, msg, 6)
	for _, tc := range []struct {
		max  int64
		want error
	}{
		{5000, nil}, {5001, nil}, {1 << 30, nil}, {0, nil}, {-1, nil},
		{4999, ErrMessageTooBig}, {1, ErrMessageTooBig},
	} {
		// The limit counts inflated bytes only, not dst's prefix.
		got, err := Inflate(make([]byte, 100), c, tc.max)
		if err != tc.want || (err == nil && !bytes.Equal(got[100:], msg)) {
			t.Errorf("max %d: %d bytes, %v; want %v", tc.max, len(got), err, tc.want)
		}
	}
	if got, err := Inflate([]byte("x"), nil, 1); err != nil || string(got) != "x" {
		t.Errorf("empty payload: %q, %v", got, err)
	}
	if got, err := Inflate(nil, Deflate(nil, nil, 1), 1); err != nil || len(got) != 0 {
		t.Errorf("empty message: %q, %v", got, err)
	}
	// Bytes after a final block are ignored, like compress/flate does.
	final := append(append(clientDeflate(t, msg, 6, 1<<30, false, true), flateTail[:]...), "junk"...)
	if got, err := Inflate(nil, final, 0); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("final block then junk: %d bytes, %v", len(got), err)
	}
}

// zeroBomb returns the permessage-deflate payload of n MiB of zeros: one
// compressed MiB repeated. Every copy ends on a byte boundary with a
// non-final block and never refers back past its own start, so the
// concatenation is a valid stream. DEFLATE cannot do better than about 1032:1,
// so 1 GiB takes about 1 MB.
func zeroBomb(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(make([]byte, 1<<20))
	_ = w.Flush()
	chunk := buf.Bytes()
	if !bytes.HasSuffix(chunk, flateTail[:]) {
		t.Fatal("no sync tail")
	}
	bomb := bytes.Repeat(chunk, n)
	return bomb[:len(bomb)-len(flateTail)]
}

func TestInflateBomb(t *testing.T) {
	const max = 1 << 20
	bomb := zeroBomb(t, 1024)
	t.Logf("1 GiB of zeros compresses to %d bytes", len(bomb))
	// The bomb is valid: a smaller prefix of it inflates completely.
	small := zeroBomb(t, 3)
	if got, err := Inflate(nil, small, 3<<20); err != nil || len(got) != 3<<20 || bytes.IndexFunc(got, func(r rune) bool { return r != 0 }) >= 0 {
		t.Fatalf("3 MiB bomb: %d bytes, %v", len(got), err)
	}

	_, _ = Inflate(nil, small, max) // warm the reader pool
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := Inflate(nil, bomb, max)
	runtime.ReadMemStats(&after)
	if err != ErrMessageTooBig || len(got) != 0 {
		t.Fatalf("Inflate = %d bytes, %v; want ErrMessageTooBig", len(got), err)
	}
	// Slack covers a new pooled reader (~45 KB) if a GC emptied the pool.
	const slack = 128 << 10
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > max+slack {
		t.Fatalf("allocated %d bytes for a %d-byte limit", alloc, max)
	}
	t.Logf("allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
}

// raceEnabled reports whether the test binary was built with -race, under
// which sync.Pool drops items at random and allocation counts mean nothing.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func TestFlateAllocs(t *testing.T) {
	if testing.Short() || raceEnabled() {
		t.Skip("allocation counts")
	}
	for _, size := range []int{100, 1 << 10, 64 << 10} {
		msg := flateText(size, 1)
		for _, level := range []int{HuffmanOnly, 1, 6} {
			c := Deflate(nil, msg, level)
			dst := make([]byte, 0, 2*size+64)
			Deflate(dst, msg, level)
			if a := testing.AllocsPerRun(50, func() { Deflate(dst, msg, level) }); a != 0 {
				t.Errorf("Deflate %d bytes level %d: %v allocs", size, level, a)
			}
			out := make([]byte, 0, size)
			a := testing.AllocsPerRun(50, func() {
				if _, err := Inflate(out, c, 0); err != nil {
					t.Fatal(err)
				}
			})
			// Dynamic blocks with codes over 9 bits make compress/flate
			// build link tables: a few allocations for large messages,
			// and for HuffmanOnly ones, which code rare bytes as
			// literals instead of inside matches.
			limit := 0.0
			if size >= 64<<10 || (level == HuffmanOnly && size >= 1<<10) {
				limit = 16
			}
			if a > limit {
				t.Errorf("Inflate %d bytes level %d: %v allocs, want <= %v", size, level, a, limit)
			}
		}
	}
}

func TestFlateConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var c, out []byte
			for i := 0; i < 50; i++ {
				msg := flateText(100+i*97+g, uint64(g*1000+i))
				level := (g + i) % 10 // 0 stands for HuffmanOnly
				if level == 0 {
					level = HuffmanOnly
				}
				c = Deflate(c[:0], msg, level)
				var err error
				if out, err = Inflate(out[:0], c, 0); err != nil || !bytes.Equal(out, msg) {
					t.Errorf("goroutine %d message %d: %v", g, i, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// FuzzInflate checks Inflate against a fresh compress/flate reader on
// arbitrary payloads and limits, and that Deflate round-trips the input.
func FuzzInflate(f *testing.F) {
	f.Add(Deflate(nil, []byte("hello, hello, hello"), 1), uint16(100))
	f.Add([]byte{0x00}, uint16(0))
	f.Add([]byte{0x07}, uint16(10))
	f.Fuzz(func(t *testing.T, p []byte, limit uint16) {
		max := int64(limit) + 1
		got, err := Inflate([]byte("pre"), p, max)
		if string(got[:3]) != "pre" {
			t.Fatal("dst prefix lost")
		}
		got = got[3:]
		if int64(len(got)) > max {
			t.Fatalf("%d bytes over the %d-byte limit", len(got), max)
		}
		want, werr := refInflate(p, max)
		switch {
		case len(p) == 0:
			if err != nil || len(got) != 0 {
				t.Fatalf("empty payload: %q, %v", got, err)
			}
		case int64(len(want)) > max:
			if err != ErrMessageTooBig {
				t.Fatalf("err = %v, want ErrMessageTooBig", err)
			}
		case werr != nil:
			if err != ErrInvalidCompressedData {
				t.Fatalf("err = %v, reference failed with %v", err, werr)
			}
		default:
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("got %q, %v; reference %q", got, err, want)
			}
		}

		level := int(limit % 11) // 10 stands for HuffmanOnly
		if level == 10 {
			level = HuffmanOnly
		}
		c := Deflate(nil, p, level)
		if back, err := Inflate(nil, c, int64(len(p))); err != nil || !bytes.Equal(back, p) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

var benchFlateSizes = []struct {
	name string
	size int
}{{"100B", 100}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

func BenchmarkDeflate(b *testing.B) {
	for _, level := range []int{1, 6} {
		for _, s := range benchFlateSizes {
			b.Run(fmt.Sprintf("level%d/%s", level, s.name), func(b *testing.B) {
				msg := flateText(s.size, 1)
				dst := Deflate(nil, msg, level)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					dst = Deflate(dst[:0], msg, level)
				}
				b.ReportMetric(float64(len(dst))/float64(len(msg)), "ratio")
			})
		}
	}
}

func BenchmarkInflate(b *testing.B) {
	for _, level := range []int{1, 6} {
		for _, s := range benchFlateSizes {
			b.Run(fmt.Sprintf("level%d/%s", level, s.name), func(b *testing.B) {
				msg := flateText(s.size, 1)
				c := Deflate(nil, msg, level)
				dst := make([]byte, 0, len(msg))
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if dst, err = Inflate(dst[:0], c, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkNewFlateWriter measures what one pooled writer costs (B/op), the
// figure quoted at the top of flate.go.
func BenchmarkNewFlateWriter(b *testing.B) {
	for _, level := range []int{HuffmanOnly, 1, 2, 6, 9} {
		name := fmt.Sprintf("level%d", level)
		if level == HuffmanOnly {
			name = "huffman"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := flate.NewWriter(io.Discard, level); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewFlateReader measures what one pooled reader costs (B/op).
func BenchmarkNewFlateReader(b *testing.B) {
	src := &flateSource{}
	b.ReportAllocs()
	for b.Loop() {
		_ = flate.NewReader(src)
	}
}
