package codec

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// FuzzUpgradeReference compares Upgrade with references: whenever it answers
// 101 to the complete head HeadScanner finds in the input, Go's net/http must
// parse exactly that head as a request, and rfc6455Refusal, a model of
// https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1 written on net/http's
// parsed request, must accept it. An input without a complete head must never
// upgrade.
func FuzzUpgradeReference(f *testing.F) {
	for _, h := range clientHeads {
		f.Add([]byte(h))
	}
	f.Fuzz(checkUpgradeReference)
}

// referenceUpgrader is the Upgrader of checkUpgradeReference.
var referenceUpgrader = ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "chat" }}

// checkUpgradeReference is the property of FuzzUpgradeReference.
func checkUpgradeReference(t *testing.T, in []byte) {
	var s HeadScanner
	end, err := s.Scan(in, 0)
	if err != nil {
		return
	}
	if end == 0 {
		if resp, _, err := Upgrade(&referenceUpgrader, in, nil); err == nil {
			t.Fatalf("upgraded an incomplete head: %q", resp)
		}
		return
	}
	head := in[:end]
	resp, _, err := Upgrade(&referenceUpgrader, head, nil)
	if !wellFormedStatus(resp) {
		t.Fatalf("malformed status line %q", resp)
	}
	if err != nil {
		return
	}
	br := bufio.NewReader(bytes.NewReader(head))
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("upgraded %q, which net/http refuses: %v", head, err)
	}
	if rest, _ := io.ReadAll(br); len(rest) > 0 {
		t.Fatalf("upgraded %q, whose head ends before %q for net/http", head, rest)
	}
	// ReadRequest deletes Host from the header: count the field lines
	// with its own header parser.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	_, _ = tp.ReadLine()
	fields, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("net/http parsed %q, textproto refuses it: %v", head, err)
	}
	if why := rfc6455Refusal(req, len(fields.Values("Host"))); why != "" {
		t.Fatalf("upgraded %q, which the RFC 6455 model refuses: %s", head, why)
	}
}

// TestUpgradeReferenceMutations checks the property of
// FuzzUpgradeReference on every one-byte substitution, insertion and
// deletion of a few valid heads.
func TestUpgradeReferenceMutations(t *testing.T) {
	heads := []string{
		curlHead,
		withHeader(withRequestLine(curlHead, "GET http://[::1]:80/a?b HTTP/1.1"), "Host", "[::1]"),
	}
	for _, head := range heads {
		in := []byte(head)
		buf := make([]byte, 0, len(in)+1)
		for i := 0; i <= len(in); i++ {
			for c := 0; c < 256; c++ {
				if i < len(in) {
					buf = append(append(append(buf[:0], in[:i]...), byte(c)), in[i+1:]...)
					checkUpgradeReference(t, buf)
				}
				buf = append(append(append(buf[:0], in[:i]...), byte(c)), in[i:]...)
				checkUpgradeReference(t, buf)
			}
			if i < len(in) {
				checkUpgradeReference(t, append(append(buf[:0], in[:i]...), in[i+1:]...))
			}
		}
	}
}

// rfc6455Refusal is the reference model of the server's opening handshake
// requirements (RFC 6455 §4.2.1 and §11.3, RFC 9112 §3.2 and §6.3) on a
// request parsed by net/http, which had hosts Host field lines. It returns
// why r must be refused, or "".
func rfc6455Refusal(r *http.Request, hosts int) string {
	key := r.Header.Values("Sec-WebSocket-Key")
	version := r.Header.Values("Sec-WebSocket-Version")
	switch {
	case r.Method != http.MethodGet:
		return "method " + r.Method
	case !r.ProtoAtLeast(1, 1):
		return "protocol " + r.Proto
	case hosts != 1:
		return "not exactly one Host"
	case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
		return "a body"
	case !listHas(r.Header.Values("Upgrade"), "websocket"):
		return "Upgrade without websocket"
	case !listHas(r.Header.Values("Connection"), "upgrade"):
		return "Connection without upgrade"
	case len(key) != 1:
		return "not exactly one Sec-WebSocket-Key"
	case len(version) != 1 || version[0] != "13":
		return "not exactly one Sec-WebSocket-Version: 13"
	}
	if k, err := base64.StdEncoding.DecodeString(key[0]); err != nil || len(k) != 16 {
		return "Sec-WebSocket-Key is not base64 of 16 bytes"
	}
	return ""
}

// listHas reports whether the comma-separated field values hold token,
// ignoring case.
func listHas(values []string, token string) bool {
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			if strings.EqualFold(strings.Trim(elem, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// TestUpgradeReferenceCorpus checks the seed corpus of FuzzUpgradeReference:
// the client_ inputs (real clients' requests) upgrade, the attack_ ones do
// not.
func TestUpgradeReferenceCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzUpgradeReference/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		client, attack := strings.HasPrefix(name, "client_"), strings.HasPrefix(name, "attack_")
		if !client && !attack {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lit, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\n[]byte(")
		in, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if !ok || err != nil {
			t.Fatalf("%s: not a []byte corpus entry: %v", name, err)
		}
		var s HeadScanner
		end, _ := s.Scan([]byte(in), 0)
		_, _, err = Upgrade(nil, []byte(in[:end]), nil)
		if upgraded := end > 0 && err == nil; upgraded != client {
			t.Errorf("%s: upgraded %v (err %v)", name, upgraded, err)
		}
	}
}
