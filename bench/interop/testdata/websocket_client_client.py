"""Interop check: the Python `websocket-client` package against a wsloop echo server.

Usage: /usr/bin/python3 websocket_client_client.py ws://127.0.0.1:PORT/
Covers create_connection (echo, ping, close code) and WebSocketApp.run_forever
with an on_message callback that closes after N messages.
Prints OK on success; exits non-zero with an explanation otherwise.
"""
import os
import struct
import sys

import websocket
from websocket import ABNF


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def sync_checks(url):
    ws = websocket.create_connection(url, timeout=30)
    for n in (0, 1, 125, 126, 65535, 65536, 1 << 20):
        t = ("é" * n)[: n // 2] + "x" * (n % 2)
        ws.send(t)
        op, data = ws.recv_data()
        if op != ABNF.OPCODE_TEXT or data.decode("utf-8") != t:
            fail("text echo of %d bytes: opcode %d, %d bytes" % (len(t.encode()), op, len(data)))
        b = os.urandom(n)
        ws.send_binary(b)
        op, data = ws.recv_data()
        if op != ABNF.OPCODE_BINARY or data != b:
            fail("binary echo of %d bytes: opcode %d, %d bytes" % (n, op, len(data)))
    # Fragmented send: first frame, continuation, final continuation, with
    # the 3-byte "€" split across the last two frames.
    ws.send_frame(ABNF.create_frame(b"frag", ABNF.OPCODE_TEXT, fin=0))
    ws.send_frame(ABNF.create_frame(b"mented \xe2", ABNF.OPCODE_CONT, fin=0))
    ws.send_frame(ABNF.create_frame(b"\x82\xac", ABNF.OPCODE_CONT, fin=1))
    op, data = ws.recv_data()
    if op != ABNF.OPCODE_TEXT or data.decode("utf-8") != "fragmented €":
        fail("fragmented echo: opcode %d, %r" % (op, data))
    ws.ping("are you there")
    while True:
        op, frame = ws.recv_data_frame(control_frame=True)
        if op == ABNF.OPCODE_PONG:
            if frame.data != b"are you there":
                fail("pong payload %r" % frame.data)
            break
        fail("unexpected frame opcode %d while waiting for pong" % op)
    ws.send_close(4000, b"bye")
    op, frame = ws.recv_data_frame(control_frame=True)
    if op != ABNF.OPCODE_CLOSE:
        fail("expected close frame, got opcode %d" % op)
    code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None
    if code != 4000:
        fail("close: server answered close code %r, want 4000" % (code,))
    ws.shutdown()


def app_checks(url, n=50):
    got = []
    closed = []
    errors = []

    def on_open(app):
        for i in range(n):
            app.send("msg %d" % i)

    def on_message(app, message):
        got.append(message)
        if len(got) == n:
            app.sock.send_close(4000, b"done")

    def on_error(app, err):
        errors.append(err)

    def on_close(app, code, reason):
        closed.append(code)

    app = websocket.WebSocketApp(url, on_open=on_open, on_message=on_message,
                                 on_error=on_error, on_close=on_close)
    app.run_forever(ping_timeout=None)
    if errors:
        fail("WebSocketApp error: %r" % (errors,))
    if got != ["msg %d" % i for i in range(n)]:
        fail("WebSocketApp got %d messages, out of order or wrong: %r" % (len(got), got[:5]))
    if closed != [4000]:
        fail("WebSocketApp on_close codes %r, want [4000]" % (closed,))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: websocket_client_client.py ws://host:port/")
    sync_checks(sys.argv[1])
    app_checks(sys.argv[1])
    print("OK")
