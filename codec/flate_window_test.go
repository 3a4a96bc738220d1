package codec

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestDeflateLevelFor(t *testing.T) {
	for _, tc := range []struct{ level, bits, want int }{
		{1, 15, 1}, {6, 15, 6}, {9, 15, 9},
		{1, 14, HuffmanOnly}, {6, 9, HuffmanOnly}, {9, 8, HuffmanOnly},
		{HuffmanOnly, 15, HuffmanOnly}, {HuffmanOnly, 8, HuffmanOnly},
	} {
		if got := DeflateLevelFor(tc.level, tc.bits); got != tc.want {
			t.Errorf("DeflateLevelFor(%d, %d) = %d, want %d", tc.level, tc.bits, got, tc.want)
		}
	}
}

// TestDeflateLevels: HuffmanOnly is its own level (not clamped to 1), and
// the other levels outside 1-9 are clamped.
func TestDeflateLevels(t *testing.T) {
	msg := flateText(8<<10, 3)
	ref := func(level int) []byte {
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, level)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(msg)
		_ = w.Flush()
		return bytes.TrimSuffix(buf.Bytes(), flateTail[:])
	}
	for _, tc := range []struct{ level, as int }{
		{HuffmanOnly, flate.HuffmanOnly}, {-3, 1}, {flate.DefaultCompression, 1},
		{flate.NoCompression, 1}, {1, 1}, {9, 9}, {10, 9},
	} {
		if got, want := Deflate(nil, msg, tc.level), ref(tc.as); !bytes.Equal(got, want) {
			t.Errorf("Deflate at %d: %d bytes, want compress/flate's %d bytes at %d", tc.level, len(got), len(want), tc.as)
		}
	}
	if h, l := len(Deflate(nil, msg, HuffmanOnly)), len(Deflate(nil, msg, 1)); h <= l {
		t.Errorf("HuffmanOnly output (%d bytes) not larger than level 1 (%d bytes) for repetitive text", h, l)
	}
}

// strictInflatePy decompresses permessage-deflate payloads with zlib at a
// given window size and prints, per payload, "OK <sha256> <eof>" or
// "ERR <zlib's message>". Its input is a sequence of records: window bits
// (1 byte), payload length (4 bytes, big-endian), payload.
//
// zlib checks a distance against the window only when it reaches back past
// the output of the current inflate call: one call with a large output
// buffer accepts distances up to that buffer's size. Asking for one byte
// per call makes every distance longer than the window fail with "invalid
// distance too far back". eof tells whether a BFINAL block was seen.
const strictInflatePy = `
import hashlib, struct, sys, zlib
src = sys.stdin.buffer
while True:
    head = src.read(5)
    if not head:
        break
    bits, n = struct.unpack(">BI", head)
    data = src.read(n) + b"\x00\x00\xff\xff"
    d = zlib.decompressobj(-bits)
    h = hashlib.sha256()
    try:
        for i in range(0, len(data), 64):
            buf = data[i:i + 64]
            while buf:
                h.update(d.decompress(buf, 1))
                buf = d.unconsumed_tail
        while True:
            b = d.decompress(b"", 1)
            if not b:
                break
            h.update(b)
        print("OK", h.hexdigest(), d.eof)
    except zlib.error as e:
        print("ERR", e)
    sys.stdout.flush()
`

// zlibCase is one payload for strictInflatePy and what it must report.
type zlibCase struct {
	name    string
	bits    int
	msg     []byte
	payload []byte // Deflate's output
	wantErr bool   // "invalid distance too far back"
}

// runStrictInflate runs strictInflatePy on every case and checks its verdicts.
func runStrictInflate(t *testing.T, cases []zlibCase) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: %v", py, err)
		}
		t.Skipf("%s is missing: %v", py, err)
	}
	var in bytes.Buffer
	for _, c := range cases {
		in.WriteByte(byte(c.bits))
		in.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.payload))))
		in.Write(c.payload)
	}
	cmd := exec.Command(py, "-c", strictInflatePy)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for _, c := range cases {
		if !sc.Scan() {
			t.Fatalf("python printed no verdict for %s; stderr:\n%s", c.name, stderr.String())
		}
		line := sc.Text()
		sum := sha256.Sum256(c.msg)
		switch {
		case c.wantErr && !strings.Contains(line, "invalid distance too far back"):
			t.Errorf("%s: zlib at window %d reported %q, want invalid distance too far back", c.name, c.bits, line)
		case !c.wantErr && line != "OK "+hex.EncodeToString(sum[:])+" False":
			t.Errorf("%s: zlib at window %d reported %q, want OK with the message's SHA-256 and no BFINAL", c.name, c.bits, line)
		default:
			verdict := line
			if !c.wantErr {
				verdict = "OK"
			}
			t.Logf("%s: %d -> %d bytes, window %d: %s", c.name, len(c.msg), len(c.payload), c.bits, verdict)
		}
	}
}

// zlibWindowSizes are the message sizes of TestDeflateZlibWindow.
var zlibWindowSizes = []int{0, 1, 125, 126, 64 << 10, 1 << 20}

// windowPayloads returns the messages of TestDeflateZlibWindow: JSON-like
// text, random bytes and a repeated 1000-byte random block (binary whose
// matches lie 1000 bytes back).
func windowPayloads(size int) map[string][]byte {
	block := randomBytes(1000, 99)
	rep := make([]byte, size)
	for i := 0; i < size; i += len(block) {
		copy(rep[i:], block)
	}
	return map[string][]byte{
		"text":   flateText(size, uint64(size)),
		"binary": randomBytes(size, uint64(size)),
		"binrep": rep,
	}
}

// TestDeflateZlibWindow decompresses Deflate's output with zlib at small
// windows (RFC 7692 §7.1.2.1). HuffmanOnly output must decompress at
// windows 8 and 9, every kind and size. Level-1 output of the repetitive
// 64 KiB and 1 MiB messages must fail there (so the check can tell) and
// decompress at window 15.
func TestDeflateZlibWindow(t *testing.T) {
	var cases []zlibCase
	for _, size := range zlibWindowSizes {
		for _, kind := range []string{"text", "binary", "binrep"} {
			msg := windowPayloads(size)[kind]
			huff := Deflate(nil, msg, HuffmanOnly)
			fast := Deflate(nil, msg, 1)
			for _, bits := range []int{8, 9} {
				cases = append(cases, zlibCase{fmt.Sprintf("huffman/%s/%d", kind, size), bits, msg, huff, false})
				if size >= 64<<10 && kind != "binary" {
					cases = append(cases, zlibCase{fmt.Sprintf("level1/%s/%d", kind, size), bits, msg, fast, true})
				}
			}
			cases = append(cases, zlibCase{fmt.Sprintf("level1/%s/%d", kind, size), 15, msg, fast, false})
		}
	}
	runStrictInflate(t, cases)
}

// TestDeflateHuffmanOnlyRoundTrip inflates HuffmanOnly output of every
// kind and size with Inflate.
func TestDeflateHuffmanOnlyRoundTrip(t *testing.T) {
	for _, size := range zlibWindowSizes {
		for kind, msg := range windowPayloads(size) {
			c := Deflate(nil, msg, HuffmanOnly)
			got, err := Inflate(nil, c, int64(max(size, 1)))
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%s/%d: Inflate: %d bytes, %v", kind, size, len(got), err)
			}
		}
	}
}

// marketData returns n bytes of JSON-like market data: one quote or trade
// per line, the kind of feed a server compresses for many subscribers.
func marketData(n int, seed uint64) []byte {
	syms := []string{"BTC-USD", "ETH-USD", "SOL-USD", "AAPL", "MSFT", "EUR-USD", "XAU-USD", "NVDA"}
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, 0, n+160)
	for seq := 1_000_000; len(b) < n; seq++ {
		sym := syms[rng.IntN(len(syms))]
		px := 100 + rng.IntN(90_000)
		if rng.IntN(2) == 0 {
			b = append(b, `{"type":"quote","sym":"`...)
			b = append(b, sym...)
			b = append(b, `","bid":`...)
			b = strconv.AppendFloat(b, float64(px)/100, 'f', 2, 64)
			b = append(b, `,"ask":`...)
			b = strconv.AppendFloat(b, float64(px+1+rng.IntN(20))/100, 'f', 2, 64)
		} else {
			b = append(b, `{"type":"trade","sym":"`...)
			b = append(b, sym...)
			b = append(b, `","px":`...)
			b = strconv.AppendFloat(b, float64(px)/100, 'f', 2, 64)
			b = append(b, `,"qty":`...)
			b = strconv.AppendInt(b, int64(1+rng.IntN(5000)), 10)
			b = append(b, `,"side":"`...)
			b = append(b, [...]string{"buy", "sell"}[rng.IntN(2)]...)
			b = append(b, '"')
		}
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, int64(seq), 10)
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, 1_718_000_000_000+int64(seq)*7+int64(rng.IntN(7)), 10)
		b = append(b, "}\n"...)
	}
	return b[:n]
}

// BenchmarkDeflateWindow compares level 1 with HuffmanOnly (what a window
// below 15 bits costs) on market data: ratio is compressed/original size.
func BenchmarkDeflateWindow(b *testing.B) {
	for _, s := range []struct {
		name string
		size int
	}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}} {
		for _, l := range []struct {
			name  string
			level int
		}{{"level1", 1}, {"huffman", HuffmanOnly}} {
			b.Run(fmt.Sprintf("%s/%s", s.name, l.name), func(b *testing.B) {
				msg := marketData(s.size, 1)
				dst := Deflate(nil, msg, l.level)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					dst = Deflate(dst[:0], msg, l.level)
				}
				b.ReportMetric(float64(len(dst))/float64(len(msg)), "ratio")
			})
		}
	}
}
