package hostile

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wsloop/wsloop/bench/internal/procfs"
)

// The harness's primitives, checked against real reference servers, so
// that a case that fails on wsloop fails because of wsloop: the frame
// encoder (every length form, masking, fragments), the response and frame
// parsers, the close handshake, the permessage-deflate codec (with a
// server that keeps its compression context) and the /proc readers.

func startRef(t *testing.T, name string) *Target {
	t.Helper()
	if name == Websockets {
		if _, err := os.Stat(pythonBin); err != nil {
			skipOrFail(t, "%s missing (Debian python3-websockets)", pythonBin)
		}
	}
	srv, err := Start(name, binaries(t, name))
	if err != nil {
		if name == Websockets && strings.Contains(err.Error(), "No module named") {
			skipOrFail(t, "python3-websockets missing: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(5 * time.Second) })
	return srv
}

// skipOrFail skips outside CI and fails in CI (as bench/interop does).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

func TestHarnessFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, name := range []string{Gorilla, Websockets} {
		t.Run(name, func(t *testing.T) {
			srv := startRef(t, name)
			c, resp, err := Upgrade(srv.Addr)
			if err != nil {
				t.Fatalf("handshake: %v (%v)", err, resp)
			}
			defer c.Close()
			// Every payload length encoding, both data opcodes.
			for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
				p := bytes.Repeat([]byte("a"), n)
				if err := c.Echo(OpText, p); err != nil {
					t.Fatalf("text %d: %v", n, err)
				}
				if err := c.Echo(OpBinary, p); err != nil {
					t.Fatalf("binary %d: %v", n, err)
				}
			}
			// The 8-byte form for a short payload, and a custom mask.
			if err := c.Send(Frame(F{Op: OpText, Payload: []byte("long form"), Len64: true, MaskKey: [4]byte{1, 2, 3, 4}}), ioTimeout); err != nil {
				t.Fatal(err)
			}
			if err := c.ExpectEcho(OpText, []byte("long form"), ioTimeout); err != nil {
				t.Fatalf("64-bit length form: %v", err)
			}
			// Fragments with a ping between them.
			if err := c.Send(Join(Frame(F{Op: OpText, Payload: []byte("in "), More: true}),
				Ping([]byte("between")), Frame(F{Op: OpCont, Payload: []byte("two")})), ioTimeout); err != nil {
				t.Fatal(err)
			}
			m, err := c.ReadMsg(ioTimeout)
			if err != nil || m.Op != OpPong || string(m.Data) != "between" {
				t.Fatalf("pong: %v %v", m, err)
			}
			if err := c.ExpectEcho(OpText, []byte("in two"), ioTimeout); err != nil {
				t.Fatalf("fragments: %v", err)
			}
			if err := c.Send(fragments(OpBinary, []byte("one byte per fragment"), 1), ioTimeout); err != nil {
				t.Fatal(err)
			}
			if err := c.ExpectEcho(OpBinary, []byte("one byte per fragment"), ioTimeout); err != nil {
				t.Fatalf("1-byte fragments: %v", err)
			}
			// The server's end of the socket is found and has read everything.
			if n, err := RecvQueue(c); err != nil || n != 0 {
				t.Fatalf("RecvQueue: %d, %v", n, err)
			}
			// Stopping mid-message, then going on with the next frame.
			if err := c.Send(Binary(bytes.Repeat([]byte{5}, 100_000)), ioTimeout); err != nil {
				t.Fatal(err)
			}
			if err := c.readPart(1000, ioTimeout); err != nil {
				t.Fatal(err)
			}
			if err := c.Echo(OpText, []byte("after a partial read")); err != nil {
				t.Fatalf("after readPart: %v", err)
			}
			if err := c.CloseClean(); err != nil {
				t.Fatalf("close handshake: %v", err)
			}

			// The /proc readers on the server's process.
			if v, err := procfs.RSS(srv.PID()); err != nil || v <= 0 {
				t.Errorf("RSS: %d %v", v, err)
			}
			if _, err := procfs.CPU(srv.PID()); err != nil {
				t.Errorf("CPU: %v", err)
			}
			if v, err := procfs.FDs(srv.PID()); err != nil || v <= 2 {
				t.Errorf("FDs: %d %v", v, err)
			}
		})
	}
}

func TestHarnessRefusal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	srv := startRef(t, Gorilla)
	// gorilla answers a wrong version with 400 and Sec-WebSocket-Version.
	h := NewHead(srv.Addr).Set("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8")
	s := tryHead(srv.Addr, h.Bytes(), h.Key(), nil)
	if s.resp == nil || s.resp.Status != 400 || s.resp.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("wrong version: %+v", s)
	}
	if r := judgeHead(s, refuse(400).with("Sec-WebSocket-Version", "13")); r.Verdict != Pass {
		t.Errorf("judge: %v", r)
	}
	if r := judgeHead(s, upgrades); r.Verdict != Stricter {
		t.Errorf("judge as an upgrade: %v", r)
	}
	// A close code gorilla fails with 1002, through the frame-case path.
	r := frameSpec{codes: closeCodes(1002), writes: [][]byte{Frame(F{Op: 0x3})}}.run(&Env{T: srv})
	if r.Verdict != Pass {
		t.Errorf("reserved opcode on gorilla: %v", r)
	}
}

func TestHarnessDeflate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	// Python websockets keeps its compression context across messages by
	// default: the second echo only inflates with the first as window.
	srv := startRef(t, Websockets)
	c, resp, err := Upgrade(srv.Addr, "Sec-WebSocket-Extensions: "+offerPlain)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.deflate {
		t.Fatalf("not negotiated: %q", resp.Get("Sec-WebSocket-Extensions"))
	}
	p := []byte(strings.Repeat("repeated words, ", 200))
	for i := range 3 {
		if err := c.Send(Frame(F{Op: OpText, RSV: bitRSV1, Payload: Deflate(p)}), ioTimeout); err != nil {
			t.Fatal(err)
		}
		if err := c.ExpectEcho(OpText, p, ioTimeout); err != nil {
			t.Fatalf("compressed echo %d: %v", i, err)
		}
	}
	if err := c.Send(compressedFragments(p, 3), ioTimeout); err != nil {
		t.Fatal(err)
	}
	if err := c.ExpectEcho(OpText, p, ioTimeout); err != nil {
		t.Fatalf("compressed fragments: %v", err)
	}
	if err := c.CloseClean(); err != nil {
		t.Fatal(err)
	}
}
