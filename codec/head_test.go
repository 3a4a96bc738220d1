package codec

import (
	"strings"
	"testing"
)

func TestHeadScannerWhole(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		max     int
		wantEnd int
		wantErr error
	}{
		{"empty", "", 0, 0, nil},
		{"incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", 0, 0, nil},
		{"complete", "GET / HTTP/1.1\r\n\r\n", 0, 18, nil},
		{"trailing frames", "GET / HTTP/1.1\r\n\r\n\x81\x80abcd", 0, 18, nil},
		{"bare LF is not an end", "GET / HTTP/1.1\n\n", 0, 0, nil},
		{"exactly max", "GET / HTTP/1.1\r\n\r\n", 18, 18, nil},
		{"one over max", "GET / HTTP/1.1\r\n\r\n", 17, 0, ErrHeadTooLarge},
		{"max without end", "GET / HTTP/1.1\r\nX: y", 20, 0, ErrHeadTooLarge},
		{"9 KiB head", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 9<<10) + "\r\n\r\n", 0, 0, ErrHeadTooLarge},
		{"9 KiB incomplete", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 9<<10), 0, 0, ErrHeadTooLarge},
		{"8 KiB head fits", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", DefaultMaxHeadSize-23) + "\r\n\r\n", 0, DefaultMaxHeadSize, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s HeadScanner
			end, err := s.Scan([]byte(tc.in), tc.max)
			if end != tc.wantEnd || err != tc.wantErr {
				t.Fatalf("Scan = %d, %v; want %d, %v", end, err, tc.wantEnd, tc.wantErr)
			}
		})
	}
}

// TestHeadScannerSplits grows the buffer in two steps at every split point
// and in single bytes, and requires the same end as a whole scan.
func TestHeadScannerSplits(t *testing.T) {
	for _, head := range []string{chromeHead, firefoxHead, curlHead, pythonHead, "GET / HTTP/1.1\r\n\r\n"} {
		in := []byte(head + "\x81\x82ab")
		want := len(head)
		for i := 0; i <= len(in); i++ {
			var s HeadScanner
			end, err := s.Scan(in[:i], 0)
			if err != nil || (i >= want) != (end == want) || (end != 0 && end != want) {
				t.Fatalf("split %d: first Scan = %d, %v", i, end, err)
			}
			if end == 0 {
				if end, err = s.Scan(in, 0); end != want || err != nil {
					t.Fatalf("split %d: second Scan = %d, %v; want %d", i, end, err, want)
				}
			}
		}
	}
}

// TestHeadScannerSlowLoris feeds a head one byte at a time and bounds the
// total work: each call may only revisit the 3 bytes before the new one.
func TestHeadScannerSlowLoris(t *testing.T) {
	head := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a\r\n", 2600)
	in := []byte(head + "\r\n")
	var s HeadScanner
	work := 0
	for i := 1; i <= len(in); i++ {
		start := max(s.scanned-3, 0)
		end, err := s.Scan(in[:i], 0)
		work += i - start
		if err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if end != 0 {
			if end != len(in) || i != len(in) {
				t.Fatalf("end %d at byte %d", end, i)
			}
			break
		}
		if s.scanned != i {
			t.Fatalf("byte %d: scanned offset %d, want %d", i, s.scanned, i)
		}
	}
	if work > 4*len(in) {
		t.Fatalf("scanned %d bytes for a %d-byte head", work, len(in))
	}

	// A slow loris that never ends its head is cut off at the limit.
	s.Reset()
	loris := []byte("GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 2000))
	for i := 1; i <= len(loris); i++ {
		_, err := s.Scan(loris[:i], 0)
		if err == ErrHeadTooLarge {
			if i != DefaultMaxHeadSize {
				t.Fatalf("ErrHeadTooLarge at %d, want %d", i, DefaultMaxHeadSize)
			}
			return
		}
	}
	t.Fatal("no ErrHeadTooLarge")
}

func BenchmarkHeadScanner(b *testing.B) {
	in := []byte(chromeHead)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var s HeadScanner
		if end, _ := s.Scan(in, 0); end != len(in) {
			b.Fatal(end)
		}
	}
}
