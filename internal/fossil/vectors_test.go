package fossil

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and testdata/corrupt.json from the current code")

const (
	vectorsFile = "testdata/vectors.json"
	corruptFile = "testdata/corrupt.json"
)

// bookLen is how many consecutive order-book snapshots the vectors hold.
const bookLen = 50

// vector is one entry of vectors.json: Delta(Src, Dst) is Delta, and every
// client must apply Delta to Src and get Dst. JSON carries the bytes in
// standard base64.
type vector struct {
	Name  string `json:"name"`
	Src   []byte `json:"src"`
	Dst   []byte `json:"dst"`
	Delta []byte `json:"delta"`
}

// corruptCase is one entry of corrupt.json: what Apply(Src, Delta) gives,
// either Error (the exact message every client must report) or Dst.
type corruptCase struct {
	Name  string `json:"name"`
	Src   []byte `json:"src"`
	Delta []byte `json:"delta"`
	Dst   []byte `json:"dst,omitempty"`
	Error string `json:"error,omitempty"`
}

// nonNil returns b, or an empty slice for nil, so that JSON holds "" and
// not null.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// basicPairs are the hand-picked (name, src, dst) vectors.
func basicPairs() [][3]string {
	quote := `{"bid":"64250.50","ask":"64251.00","last":"64250.75"}`
	lorem := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 12)
	return [][3]string{
		{"empty to empty", "", ""},
		{"empty source", "", quote},
		{"empty target", quote, ""},
		{"short target", quote, `{"bid"}`},
		{"identical", quote, quote},
		{"one field changed", quote, strings.Replace(quote, "64251.00", "64251.25", 1)},
		{"insertion", quote, strings.Replace(quote, `"last"`, `"vol":"12.5","last"`, 1)},
		{"deletion", quote, strings.Replace(quote, `,"ask":"64251.00"`, "", 1)},
		{"totally different", quote, strings.Repeat("0123456789", 6)},
		{"binary", string(randomBytes(10, 300)), string(randomBytes(10, 300)[:150]) + "\x00\xff\n;@:," + string(randomBytes(10, 300)[150:])},
		{"all byte values", "", string(randomBytes(11, 512))},
		{"long repetitive", lorem, lorem[:300] + "CHANGED" + lorem[310:] + lorem},
		{"reordered", lorem[:200], lorem[100:200] + lorem[:100]},
	}
}

// buildVectors returns the vectors the encoder produces now, and the
// order-book totals: the bytes of the snapshots after the first, and of
// their deltas.
func buildVectors() (vs []vector, targets, deltas int) {
	for _, p := range basicPairs() {
		src, dst := []byte(p[1]), []byte(p[2])
		vs = append(vs, vector{p[0], nonNil(src), nonNil(dst), Delta(src, dst)})
	}
	snaps := sequence(14, 10, bookLen)
	for i := 1; i < len(snaps); i++ {
		d := Delta(snaps[i-1], snaps[i])
		vs = append(vs, vector{fmt.Sprintf("order book %02d", i), snaps[i-1], snaps[i], d})
		targets += len(snaps[i])
		deltas += len(d)
	}
	return vs, targets, deltas
}

// handCorrupt are deltas that break one rule each, against corruptSource.
func handCorrupt() [][2]string {
	return [][2]string{
		{"empty delta", ""},
		{"header without newline", "5"},
		{"header not a number", "!\n"},
		{"header too large", "~~~~~~\n"},
		{"header only", "5\n"},
		{"no operator", "5\n5"},
		{"unknown operator", "5\n5#hello"},
		{"copy without comma", "5\n5@0;"},
		{"copy without offset", "5\n5@,"},
		{"copy past end of source", "5\n5@f,"},
		{"copy of more than the source", "10\n10@0,"},
		{"copy past declared length", "4\n5@0,"},
		{"literal past end of delta", "5\n5:hell"},
		{"literal past declared length", "4\n5:hello"},
		{"missing trailer", "5\n5:hello"},
		{"trailer without number", "5\n5:hello;"},
		{"short target", "6\n5:hello" + num(int(Checksum([]byte("hello")))) + ";"},
		{"long target", "4\n4:hell3:lo!1;"},
		{"bad checksum", "5\n5:hello1;"},
		{"trailing garbage", "5\n5:hello" + num(int(Checksum([]byte("hello")))) + ";x"},
		{"number too large", "5\n~~~~~~:hello"},
	}
}

// corruptSource is the source of the corrupt cases.
const corruptSource = "hello world, hello fossil, hello delta format"

// buildCorrupt returns the corrupt cases with what Apply makes of them
// now: the hand-written ones, then every truncation of two valid deltas
// and a set of single-byte replacements in them (which Apply may accept).
func buildCorrupt() []corruptCase {
	var cs []corruptCase
	add := func(name string, src, delta []byte) {
		c := corruptCase{Name: name, Src: nonNil(src), Delta: nonNil(delta)}
		if out, err := Apply(src, delta); err != nil {
			c.Error = err.Error()
		} else {
			c.Dst = nonNil(out)
		}
		cs = append(cs, c)
	}
	for _, h := range handCorrupt() {
		add(h[0], []byte(corruptSource), []byte(h[1]))
	}
	src := []byte(corruptSource)
	for _, dst := range []string{"hello world. hello fossil, hello delta format v2", "jello world, hello fossil, hello delta format."} {
		d := Delta(src, []byte(dst))
		for n := range len(d) {
			add(fmt.Sprintf("%q truncated to %d", d, n), src, d[:n])
		}
		for i := range d {
			for _, r := range []byte{'0', '~', '@', ':', ',', ';', '\n', 0xff, d[i] + 1} {
				if r == d[i] {
					continue
				}
				m := bytes.Clone(d)
				m[i] = r
				add(fmt.Sprintf("%q with byte %d set to 0x%02x", d, i, r), src, m)
			}
		}
	}
	return cs
}

// golden writes entries as a JSON array, one entry a line, to path under
// -update, and otherwise requires the file to hold exactly that JSON.
func golden[E any](t *testing.T, path string, entries []E) {
	t.Helper()
	want := []byte("[\n")
	for i, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, line...)
		if i < len(entries)-1 {
			want = append(want, ',')
		}
		want = append(want, '\n')
	}
	want = append(want, "]\n"...)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with go test -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what the code produces now; if the change is intended, regenerate it with go test -run %s -update", path, t.Name())
	}
}

func TestVectors(t *testing.T) {
	vs, targets, deltas := buildVectors()
	for _, v := range vs {
		got, err := Apply(v.Src, v.Delta)
		if err != nil || !bytes.Equal(got, v.Dst) {
			t.Fatalf("%s: Apply = %q, %v; want %q", v.Name, got, err, v.Dst)
		}
	}
	golden(t, vectorsFile, vs)
	first := len(vs[len(basicPairs())].Src)
	t.Logf("order book, %d snapshots of 10 levels a side: %d bytes of snapshots 2-%d sent as %d bytes of deltas (%.1f%%), %d bytes saved; the feed of all %d: %d bytes full, %d with deltas",
		bookLen, targets, bookLen, deltas, 100*float64(deltas)/float64(targets), targets-deltas,
		bookLen, first+targets, first+deltas)
}

func TestCorruptVectors(t *testing.T) {
	cs := buildCorrupt()
	for _, c := range cs {
		if strings.HasPrefix(c.Name, `"`) {
			continue
		}
		if c.Error == "" {
			t.Errorf("%s: Apply(%q) accepted it: %q", c.Name, c.Delta, c.Dst)
		}
	}
	golden(t, corruptFile, cs)
}
