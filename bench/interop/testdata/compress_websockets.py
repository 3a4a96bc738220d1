"""Interop check: permessage-deflate (RFC 7692) with the Python `websockets`
asyncio client against a wsloop echo server.

Usage: /usr/bin/python3 compress_websockets.py URL MODE SPEC
  MODE  deflate      the library's default offer; the server must accept it
        none         compression=None: no offer, the connection runs uncompressed
        smallwindow  an offer with server_max_window_bits=10, which the server
                     must accept, answering server_max_window_bits=10
  SPEC  comma-separated KIND:SIZE messages, echoed in order; KIND is
        text (compressible UTF-8), rtext (random ASCII), zeros or random (binary)
Prints the negotiated Sec-WebSocket-Extensions and OK on success; exits non-zero
with an explanation otherwise.
"""
import asyncio
import random
import string
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

PATTERN = "wsloop é€𝄞 "  # 11 characters, 17 bytes of UTF-8


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def payload(kind, n, rng):
    if kind == "text":
        s = (PATTERN * (n // 11 + 1)).encode("utf-8")[:n].decode("utf-8", errors="ignore")
        return s + "x" * (n - len(s.encode("utf-8")))
    if kind == "rtext":
        return "".join(rng.choices(string.printable[:94] + " ", k=n))
    if kind == "zeros":
        return bytes(n)
    if kind == "random":
        return rng.randbytes(n)
    fail("unknown message kind %r" % kind)


async def main(url, mode, spec):
    kwargs = {}
    if mode == "none":
        kwargs["compression"] = None
    elif mode == "smallwindow":
        kwargs["compression"] = None
        kwargs["extensions"] = [ClientPerMessageDeflateFactory(server_max_window_bits=10)]
    elif mode != "deflate":
        fail("unknown mode %r" % mode)
    rng = random.Random(7692)
    async with websockets.connect(url, max_size=None, open_timeout=10,
                                  close_timeout=10, **kwargs) as ws:
        header = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        names = [e.name for e in ws.extensions]
        print("EXT " + (header or "-"))
        if mode == "deflate":
            if names != ["permessage-deflate"] or "permessage-deflate" not in header:
                fail("permessage-deflate not negotiated: extensions %r, header %r" % (names, header))
        elif mode == "smallwindow":
            if names != ["permessage-deflate"] or "server_max_window_bits=10" not in header:
                fail("want permessage-deflate with server_max_window_bits=10: extensions %r, header %r" % (names, header))
        elif names or header:
            fail("mode %s: want no extension, got extensions %r, header %r" % (mode, names, header))
        for item in spec.split(","):
            kind, size = item.split(":")
            want = payload(kind, int(size), rng)
            await ws.send(want)
            got = await asyncio.wait_for(ws.recv(), 30)
            if type(got) is not type(want) or got != want:
                fail("%s echo of %s bytes: got %s of length %d" % (kind, size, type(got).__name__, len(got)))
        await ws.close(code=1000, reason="done")
        if ws.close_code != 1000:
            fail("close: server answered close code %r, want 1000" % (ws.close_code,))
    print("OK")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        fail("usage: compress_websockets.py URL MODE SPEC")
    asyncio.run(asyncio.wait_for(main(*sys.argv[1:]), 120))
