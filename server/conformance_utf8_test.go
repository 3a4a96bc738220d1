package server_test

import (
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// utf8Vector is one test sequence of Autobahn categories 6.5-6.23 (derived
// from Markus Kuhn's UTF-8 decoder stress test).
type utf8Vector struct {
	valid bool
	s     string
}

type utf8Group struct {
	name    string
	vectors []utf8Vector
}

func v(s string) utf8Vector  { return utf8Vector{true, s} }
func iv(s string) utf8Vector { return utf8Vector{false, s} }

const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

// utf8Groups returns the groups in Autobahn order; group i is case 6.(i+5).
func utf8Groups() []utf8Group {
	var gs []utf8Group
	add := func(name string, vs ...utf8Vector) { gs = append(gs, utf8Group{name, vs}) }

	add("valid sequences",
		v("hello\x24world"), v("hello\xc2\xa2world"), v("hello\xe2\x82\xacworld"),
		v("hello\xf0\xa4\xad\xa2world"), v(kosme))

	var prefixes []utf8Vector
	for i := 1; i <= len(kosme); i++ {
		p := kosme[:i]
		// A prefix is a valid message only if it ends on a code point.
		prefixes = append(prefixes, utf8Vector{utf8.ValidString(p), p})
	}
	add("prefixes of a valid string", prefixes...)

	add("first possible sequence of a length", v("\x00"), v("\xc2\x80"), v("\xe0\xa0\x80"), v("\xf0\x90\x80\x80"))
	add("first possible sequence length 5/6", iv("\xf8\x88\x80\x80\x80"), iv("\xfc\x84\x80\x80\x80\x80"))
	add("last possible sequence of a length", v("\x7f"), v("\xdf\xbf"), v("\xef\xbf\xbf"), v("\xf4\x8f\xbf\xbf"))
	add("last possible sequence length 4/5/6", iv("\xf7\xbf\xbf\xbf"), iv("\xfb\xbf\xbf\xbf\xbf"), iv("\xfd\xbf\xbf\xbf\xbf\xbf"))
	add("other boundary conditions",
		v("\xed\x9f\xbf"), v("\xee\x80\x80"), v("\xef\xbf\xbd"), v("\xf4\x8f\xbf\xbf"), iv("\xf4\x90\x80\x80"))

	var cont []byte
	for b := 0x80; b < 0xbf; b++ {
		cont = append(cont, byte(b))
	}
	add("unexpected continuation bytes",
		iv("\x80"), iv("\xbf"), iv("\x80\xbf"), iv("\x80\xbf\x80"), iv("\x80\xbf\x80\xbf"),
		iv("\x80\xbf\x80\xbf\x80"), iv("\x80\xbf\x80\xbf\x80\xbf"), iv(string(cont)))

	var lonely []utf8Vector
	for _, r := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var s []byte
		for b := r[0]; b < r[1]; b++ {
			s = append(s, byte(b), 0x20)
		}
		lonely = append(lonely, iv(string(s)))
	}
	add("lonely start characters", lonely...)

	missing := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	var mv []utf8Vector
	concat := ""
	for _, s := range missing {
		mv = append(mv, iv(s))
		concat += s
	}
	add("last continuation byte missing", mv...)
	add("concatenation of incomplete sequences", iv(concat))
	add("impossible bytes", iv("\xfe"), iv("\xff"), iv("\xfe\xfe\xff\xff"))
	add("overlong ASCII",
		iv("\xc0\xaf"), iv("\xe0\x80\xaf"), iv("\xf0\x80\x80\xaf"), iv("\xf8\x80\x80\x80\xaf"), iv("\xfc\x80\x80\x80\x80\xaf"))
	add("maximum overlong sequences",
		iv("\xc1\xbf"), iv("\xe0\x9f\xbf"), iv("\xf0\x8f\xbf\xbf"), iv("\xf8\x87\xbf\xbf\xbf"), iv("\xfc\x83\xbf\xbf\xbf\xbf"))
	add("overlong NUL",
		iv("\xc0\x80"), iv("\xe0\x80\x80"), iv("\xf0\x80\x80\x80"), iv("\xf8\x80\x80\x80\x80"), iv("\xfc\x80\x80\x80\x80\x80"))
	add("single UTF-16 surrogates",
		iv("\xed\xa0\x80"), iv("\xed\xad\xbf"), iv("\xed\xae\x80"), iv("\xed\xaf\xbf"),
		iv("\xed\xb0\x80"), iv("\xed\xbe\x80"), iv("\xed\xbf\xbf"))
	hi := []string{"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf"}
	lo := []string{"\xed\xb0\x80", "\xed\xbf\xbf"}
	var paired []utf8Vector
	for _, h := range hi {
		for _, l := range lo {
			paired = append(paired, iv(h+l))
		}
	}
	add("paired UTF-16 surrogates", paired...)

	nonchars := []utf8Vector{v("\xef\xbf\xbe"), v("\xef\xbf\xbf")}
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f {
				continue // beyond U+10FFFF
			}
			for _, z3 := range []byte{0xbe, 0xbf} {
				if z1 == 0xf0 && z2 == 0x8f {
					continue // overlong
				}
				nonchars = append(nonchars, v(string([]byte{z1, z2, 0xbf, z3})))
			}
		}
	}
	add("non-character code points (valid)", nonchars...)
	add("unicode specials",
		v("\xef\xbf\xb9"), v("\xef\xbf\xba"), v("\xef\xbf\xbb"), v("\xef\xbf\xbc"),
		v("\xef\xbf\xbd"), v("\xef\xbf\xbe"), v("\xef\xbf\xbf"))
	return gs
}

func TestConformanceUTF8Table(t *testing.T) {
	// Guard the hand-written table against typos: every expectation must
	// agree with the standard library's validator.
	n := 0
	for gi, g := range utf8Groups() {
		for vi, vec := range g.vectors {
			n++
			if utf8.ValidString(vec.s) != vec.valid {
				t.Errorf("6.%d.%d %q: table says valid=%v", gi+5, vi+1, vec.s, vec.valid)
			}
		}
	}
	if n != 132 { // Autobahn 6.5.x-6.23.x
		t.Errorf("only %d vectors", n)
	}
}

// 6.x UTF-8 handling.
func conformance6(t *testing.T, addr string) {
	const hello = "Hello-µ@ßöäüàá-UTF-8!!"
	const invalid = kosme + "\xed\xa0\x80" + "\x65\x64\x69\x74\x65\x64"
	oneByteFrags := func(s string) []act {
		var out []act
		for i := 0; i < len(s); i++ {
			op := ws.OpContinuation
			if i == 0 {
				op = ws.OpText
			}
			out = append(out, fr(i == len(s)-1, op, s[i:i+1]))
		}
		if len(s) == 0 {
			out = append(out, fr(true, ws.OpText, ""))
		}
		return out
	}
	cases := []tcase{
		{id: "6.1.1", acts: []act{fr(true, ws.OpText, "")}, want: []exp{msg(ws.OpText, "")}},
		{id: "6.1.2", acts: []act{fr(false, ws.OpText, ""), fr(false, ws.OpContinuation, ""), fr(true, ws.OpContinuation, "")},
			want: []exp{msg(ws.OpText, "")}},
		{id: "6.1.3", acts: []act{fr(false, ws.OpText, ""), fr(false, ws.OpContinuation, "middle frame payload"), fr(true, ws.OpContinuation, "")},
			want: []exp{msg(ws.OpText, "middle frame payload")}},
		{id: "6.2.1", acts: []act{fr(true, ws.OpText, hello)}, want: []exp{msg(ws.OpText, hello)}},
		{id: "6.2.2", acts: []act{fr(false, ws.OpText, "Hello-µ@ßöä"), fr(true, ws.OpContinuation, "üàá-UTF-8!!")},
			want: []exp{msg(ws.OpText, hello)}},
		{id: "6.2.3", acts: oneByteFrags(hello), want: []exp{msg(ws.OpText, hello)}},
		{id: "6.2.4", acts: oneByteFrags(kosme), want: []exp{msg(ws.OpText, kosme)}},
		{id: "6.3.1", acts: []act{fr(true, ws.OpText, invalid)}, fail: 1007},
		{id: "6.3.2", acts: oneByteFrags(invalid), fail: 1007},
	}
	for gi, g := range utf8Groups() {
		for vi, vec := range g.vectors {
			id := fmt.Sprintf("6.%d.%d", gi+5, vi+1)
			whole := tcase{id: id, acts: []act{fr(true, ws.OpText, vec.s)}}
			frag := tcase{id: id + "/frag", acts: oneByteFrags(vec.s)}
			if vec.valid {
				whole.want = []exp{msg(ws.OpText, vec.s)}
				frag.want = whole.want
			} else {
				whole.fail, frag.fail = 1007, 1007
			}
			cases = append(cases, whole, frag)
		}
	}
	runTable(t, addr, cases)

	// 6.4.x fail-fast: the server must reject the message as soon as the
	// invalid octet arrives, before the rest of the message is sent.
	const p1, p2, p3 = kosme, "\xf4\x90\x80\x80", "\x65\x64\x69\x74\x65\x64"
	full := p1 + p2 + p3
	frames := func(parts ...string) func(c *client) [][]byte {
		return func(c *client) [][]byte {
			return [][]byte{
				encode(false, 0, ws.OpText, []byte(parts[0])),
				encode(false, 0, ws.OpContinuation, []byte(parts[1])),
				encode(true, 0, ws.OpContinuation, []byte(parts[2])),
			}
		}
	}
	// chops splits one frame carrying the whole message into three writes.
	chops := func(cut1, cut2 int) func(c *client) [][]byte {
		return func(c *client) [][]byte {
			raw := encode(true, 0, ws.OpText, []byte(full))
			hdr := len(raw) - len(full)
			return [][]byte{raw[:hdr+cut1], raw[hdr+cut1 : hdr+cut2], raw[hdr+cut2:]}
		}
	}
	ff := []struct {
		id    string
		parts func(c *client) [][]byte
		// ping reports whether part 1 can be followed by a ping to prove
		// that it was accepted (only between whole frames).
		ping bool
	}{
		{"6.4.1", frames(p1, p2, p3), true},
		{"6.4.2", frames(full[:12], full[12:13], full[13:]), true},
		{"6.4.3", chops(len(p1), len(p1)+len(p2)), false},
		{"6.4.4", chops(12, 13), false},
	}
	for _, c := range ff {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			cl := dial(t, addr)
			parts := c.parts(cl)
			cl.mustWrite(parts[0])
			if c.ping {
				cl.mustWrite(encode(true, 0, ws.OpPing, []byte("A")))
				cl.expectControl(ws.OpPong, []byte("A"))
			} else {
				cl.expectSilence(300 * time.Millisecond)
			}
			if c.ping {
				cl.mustWrite(parts[1])
			} else if err := cl.rawWrite(parts[1]); err != nil {
				t.Fatalf("write: %v", err)
			}
			if !c.ping {
				// Chops of one frame: Autobahn accepts failing at the end
				// of the frame as NON-STRICT.
				f, err := cl.readFrame(time.Second)
				if err != nil {
					t.Logf("NON-STRICT: no fail-fast inside a frame (%v); sending the rest", err)
					_ = cl.rawWrite(parts[2])
					cl.expectClose(1007)
					assertAlive(t, addr)
					return
				}
				cl.finishClose(f, 1007)
				assertAlive(t, addr)
				return
			}
			// Fail fast: 1007 must arrive without the third part.
			cl.expectClose(1007)
			assertAlive(t, addr)
		})
	}

	// Extra: an invalid first fragment is failed before any continuation.
	t.Run("6.4.x-first", func(t *testing.T) {
		t.Parallel()
		cl := dial(t, addr)
		cl.mustWrite(encode(false, 0, ws.OpText, []byte("ok\xff")))
		cl.expectClose(1007)
		assertAlive(t, addr)
	})
}
