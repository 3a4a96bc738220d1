package codec

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// The exact answers: httphead.WriteOptions puts no space after ';'.
const pmdAnswer = "permessage-deflate;server_no_context_takeover;client_no_context_takeover"

// pmdAnswerWindow is the answer to an offer with server_max_window_bits=bits.
func pmdAnswerWindow(bits int) string {
	return pmdAnswer + ";server_max_window_bits=" + strconv.Itoa(bits)
}

// withExtensions returns curlHead with one Sec-WebSocket-Extensions field per
// value.
func withExtensions(values ...string) string {
	head := strings.TrimSuffix(curlHead, "\r\n\r\n")
	for _, v := range values {
		head += "\r\nSec-WebSocket-Extensions: " + v
	}
	return head + "\r\n\r\n"
}

// flateNegotiateCase is one handshake: the offers, the expected answer and
// the expected ServerWindowBits.
type flateNegotiateCase struct {
	name   string
	offers []string // one header field each
	want   string   // the response field; "" means none
	bits   int      // ServerWindowBits; 0 means 15
}

func TestFlateNegotiator(t *testing.T) {
	for _, tc := range []flateNegotiateCase{
		{"none", nil, "", 0},
		{"plain", []string{"permessage-deflate"}, pmdAnswer, 0},
		{"chrome", []string{"permessage-deflate; client_max_window_bits"}, pmdAnswer, 0},
		{"spaces", []string{"permessage-deflate ;client_max_window_bits ; server_no_context_takeover"}, pmdAnswer, 0},
		{"both no context takeover", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, pmdAnswer, 0},

		// client_max_window_bits: with or without a value 8-15, never answered.
		{"client bits 8", []string{"permessage-deflate; client_max_window_bits=8"}, pmdAnswer, 0},
		{"client bits 10", []string{"permessage-deflate; client_max_window_bits=10"}, pmdAnswer, 0},
		{"client bits 15", []string{"permessage-deflate; client_max_window_bits=15"}, pmdAnswer, 0},
		{"client bits quoted", []string{`permessage-deflate; client_max_window_bits="10"`}, pmdAnswer, 0},
		{"client bits 7", []string{"permessage-deflate; client_max_window_bits=7"}, "", 0},
		{"client bits 16", []string{"permessage-deflate; client_max_window_bits=16"}, "", 0},
		{"client bits 0", []string{"permessage-deflate; client_max_window_bits=0"}, "", 0},
		{"client bits leading zero", []string{"permessage-deflate; client_max_window_bits=010"}, "", 0},
		{"client bits abc", []string{"permessage-deflate; client_max_window_bits=abc"}, "", 0},
		{"client bits quoted junk", []string{`permessage-deflate; client_max_window_bits="1?"`}, "", 0},

		// server_max_window_bits 8-15 is accepted and repeated (more in
		// TestFlateNegotiatorWindows); anything else declines the offer.
		{"server bits 15 and client bits", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=15"}, pmdAnswerWindow(15), 15},
		{"server bits 8 and client bits 8", []string{"permessage-deflate; client_max_window_bits=8; server_max_window_bits=8"}, pmdAnswerWindow(8), 8},
		{"server bits quoted", []string{`permessage-deflate; server_max_window_bits="9"`}, pmdAnswerWindow(9), 9},
		{"server bits 7", []string{"permessage-deflate; server_max_window_bits=7"}, "", 0},
		{"server bits 0", []string{"permessage-deflate; server_max_window_bits=0"}, "", 0},
		{"server bits 16", []string{"permessage-deflate; server_max_window_bits=16"}, "", 0},
		{"server bits negative", []string{"permessage-deflate; server_max_window_bits=-9"}, "", 0},
		{"server bits abc", []string{"permessage-deflate; server_max_window_bits=abc"}, "", 0},
		{"server bits 8.0", []string{"permessage-deflate; server_max_window_bits=8.0"}, "", 0},
		{"server bits leading zero", []string{"permessage-deflate; server_max_window_bits=015"}, "", 0},
		{"server bits leading zero 8", []string{"permessage-deflate; server_max_window_bits=08"}, "", 0},
		{"server bits no value", []string{"permessage-deflate; server_max_window_bits"}, "", 0},
		{"server bits empty quoted", []string{`permessage-deflate; server_max_window_bits=""`}, "", 0},
		{"server bits 10 then fallback", []string{"permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate; client_max_window_bits"}, pmdAnswerWindow(10), 10},
		{"server bits 10 then 15", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate; server_max_window_bits=15"}, pmdAnswerWindow(10), 10},
		{"server bits 7 then 9", []string{"permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=9"}, pmdAnswerWindow(9), 9},
		{"server bits 16 then none", []string{"permessage-deflate; server_max_window_bits=16, permessage-deflate"}, pmdAnswer, 0},
		{"server bits 8 then bad param", []string{"permessage-deflate; server_max_window_bits=8; foo, permessage-deflate"}, pmdAnswer, 0},

		// Values on flag parameters, unknown and duplicate parameters.
		{"server no context takeover value", []string{"permessage-deflate; server_no_context_takeover=1"}, "", 0},
		{"client no context takeover value", []string{"permessage-deflate; client_no_context_takeover=true"}, "", 0},
		{"unknown parameter", []string{"permessage-deflate; foo"}, "", 0},
		{"unknown parameter with value", []string{"permessage-deflate; max_window_bits=10"}, "", 0},
		{"unknown parameter then fallback", []string{"permessage-deflate; foo=bar, permessage-deflate"}, pmdAnswer, 0},
		{"parameter name case", []string{"permessage-deflate; Client_Max_Window_Bits"}, "", 0},
		{"duplicate client bits", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits"}, "", 0},
		{"duplicate client bits values", []string{"permessage-deflate; client_max_window_bits=10; client_max_window_bits=10"}, "", 0},
		{"duplicate client bits mixed", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits=9"}, "", 0},
		{"duplicate server bits", []string{"permessage-deflate; server_max_window_bits=15; server_max_window_bits=15"}, "", 0},
		{"duplicate server bits 8", []string{"permessage-deflate; server_max_window_bits=8; server_max_window_bits=8"}, "", 0},
		{"duplicate server bits 8 then 10", []string{"permessage-deflate; server_max_window_bits=8; server_max_window_bits=10"}, "", 0},
		{"duplicate server no context", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, "", 0},
		{"duplicate client no context", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, "", 0},
		{"duplicate then fallback", []string{"permessage-deflate; client_max_window_bits; client_max_window_bits, permessage-deflate; client_max_window_bits"}, pmdAnswer, 0},

		// Other extensions and several offers.
		{"other extension", []string{"x-webkit-deflate-frame"}, "", 0},
		{"other extension first", []string{"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"}, pmdAnswer, 0},
		{"extension name case", []string{"Permessage-Deflate"}, "", 0},
		{"first acceptable offer only", []string{"permessage-deflate; server_max_window_bits=15, permessage-deflate"}, pmdAnswerWindow(15), 15},
		{"first small window offer only", []string{"permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=12"}, pmdAnswerWindow(8), 8},
		{"second offer not answered", []string{"permessage-deflate, permessage-deflate; server_max_window_bits=15"}, pmdAnswer, 0},
		{"second small window not answered", []string{"permessage-deflate, permessage-deflate; server_max_window_bits=8"}, pmdAnswer, 0},
		{"two header fields", []string{"permessage-deflate; foo", "permessage-deflate; client_max_window_bits"}, pmdAnswer, 0},
		{"two header fields both good", []string{"permessage-deflate", "permessage-deflate; server_max_window_bits=15"}, pmdAnswer, 0},
		{"two header fields small window first", []string{"permessage-deflate; server_max_window_bits=9", "permessage-deflate"}, pmdAnswerWindow(9), 9},
	} {
		t.Run(tc.name, func(t *testing.T) { checkFlateNegotiation(t, tc) })
	}
}

// TestFlateNegotiatorWindows: every window size 8-15 is accepted and
// repeated, with or without either no_context_takeover and
// client_max_window_bits, in any parameter order.
func TestFlateNegotiatorWindows(t *testing.T) {
	for bits := 8; bits <= 15; bits++ {
		for _, extra := range []string{
			"",
			"; server_no_context_takeover",
			"; client_no_context_takeover",
			"; server_no_context_takeover; client_no_context_takeover",
			"; client_max_window_bits",
			"; client_no_context_takeover; client_max_window_bits=" + strconv.Itoa(bits),
		} {
			for _, first := range []bool{false, true} {
				offer := fmt.Sprintf("permessage-deflate%s; server_max_window_bits=%d", extra, bits)
				if first {
					offer = fmt.Sprintf("permessage-deflate; server_max_window_bits=%d%s", bits, extra)
				}
				checkFlateNegotiation(t, flateNegotiateCase{offer, []string{offer}, pmdAnswerWindow(bits), bits})
			}
		}
	}
}

// TestFlateNegotiatorAutobahn answers the offers of Autobahn's fuzzingclient
// cases 13.1-13.7 exactly as that client (autobahn-python's
// PerMessageDeflateOffer.getExtensionString) writes them; 13.3 and 13.5 ask
// for a 256-byte server window, 13.7 sends three offers.
func TestFlateNegotiatorAutobahn(t *testing.T) {
	const (
		base  = "permessage-deflate; client_no_context_takeover; client_max_window_bits"
		nocx  = base + "; server_no_context_takeover"
		bits8 = "; server_max_window_bits=8"
	)
	for _, tc := range []flateNegotiateCase{
		{"13.1", []string{base}, pmdAnswer, 0},
		{"13.2", []string{nocx}, pmdAnswer, 0},
		{"13.3", []string{base + bits8}, pmdAnswerWindow(8), 8},
		{"13.4", []string{base + "; server_max_window_bits=15"}, pmdAnswerWindow(15), 15},
		{"13.5", []string{nocx + bits8}, pmdAnswerWindow(8), 8},
		{"13.6", []string{nocx + "; server_max_window_bits=15"}, pmdAnswerWindow(15), 15},
		{"13.7", []string{nocx + bits8 + "," + nocx + "," + base}, pmdAnswerWindow(8), 8},
	} {
		t.Run(tc.name, func(t *testing.T) { checkFlateNegotiation(t, tc) })
	}
}

// checkFlateNegotiation runs the upgrade of tc with a fresh FlateNegotiator
// and checks the answer, Accepted and ServerWindowBits.
func checkFlateNegotiation(t *testing.T, tc flateNegotiateCase) {
	t.Helper()
	var n FlateNegotiator
	u := &ws.Upgrader{Negotiate: n.Negotiate}
	resp, hs, err := Upgrade(u, []byte(withExtensions(tc.offers...)), nil)
	if err != nil {
		t.Fatalf("%s: upgrade failed: %v\n%s", tc.name, err, resp)
	}
	r := parseResponse(t, resp)
	got := r.Header.Values("Sec-WebSocket-Extensions")
	switch {
	case tc.want == "" && len(got) != 0:
		t.Fatalf("%s: answered %q, want no extension", tc.name, got)
	case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
		t.Fatalf("%s: answered %q, want %q", tc.name, got, tc.want)
	}
	if n.Accepted() != (tc.want != "") || len(hs.Extensions) != len(got) {
		t.Fatalf("%s: Accepted = %v, %d extensions in handshake", tc.name, n.Accepted(), len(hs.Extensions))
	}
	want := tc.bits
	if want == 0 {
		want = 15
	}
	if b := n.ServerWindowBits(); b != want {
		t.Fatalf("%s: ServerWindowBits = %d, want %d", tc.name, b, want)
	}
}

// TestFlateNegotiatorMalformedHeader: a header gobwas/ws cannot parse fails
// the upgrade before the negotiator could decline anything.
func TestFlateNegotiatorMalformedHeader(t *testing.T) {
	var n FlateNegotiator
	u := &ws.Upgrader{Negotiate: n.Negotiate}
	resp, _, err := Upgrade(u, []byte(withExtensions("permessage-deflate; =")), nil)
	if err == nil || parseResponse(t, resp).StatusCode != 400 {
		t.Fatalf("err = %v, response %q", err, resp)
	}
}

func TestFlateNegotiatorReuse(t *testing.T) {
	var n FlateNegotiator
	u := &ws.Upgrader{Negotiate: n.Negotiate}
	for i, tc := range []struct {
		head string
		want bool
		bits int
	}{
		{chromeHead, true, 15}, {curlHead, false, 15}, {firefoxHead, true, 15},
		{withExtensions("permessage-deflate; server_max_window_bits=9"), true, 9},
		{pythonHead, true, 15},
		{withExtensions("permessage-deflate; server_max_window_bits=8"), true, 8},
		{withExtensions("permessage-deflate; server_max_window_bits=7"), false, 15},
	} {
		n.Reset()
		if _, _, err := Upgrade(u, []byte(tc.head), nil); err != nil {
			t.Fatal(err)
		}
		if n.Accepted() != tc.want || n.ServerWindowBits() != tc.bits {
			t.Fatalf("upgrade %d: Accepted = %v, ServerWindowBits = %d; want %v, %d", i, n.Accepted(), n.ServerWindowBits(), tc.want, tc.bits)
		}
	}
}

func TestFlateNegotiatorAllocs(t *testing.T) {
	for _, bits := range []string{"15", "8"} {
		offer := httphead.Option{Name: []byte("permessage-deflate")}
		offer.Parameters.Set([]byte("client_max_window_bits"), nil)
		offer.Parameters.Set([]byte("server_max_window_bits"), []byte(bits))
		var n FlateNegotiator
		a := testing.AllocsPerRun(100, func() {
			n.Reset()
			if resp, err := n.Negotiate(offer); err != nil || resp.Size() == 0 {
				t.Fatal("declined")
			}
		})
		if a != 0 {
			t.Fatalf("Negotiate allocs with server_max_window_bits=%s: %v", bits, a)
		}
	}
}

func BenchmarkUpgradeFlate(b *testing.B) {
	var n FlateNegotiator
	u := &ws.Upgrader{Negotiate: n.Negotiate}
	head := []byte(chromeHead)
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		n.Reset()
		var err error
		if dst, _, err = Upgrade(u, head, dst[:0]); err != nil || !n.Accepted() {
			b.Fatal(err)
		}
	}
}
