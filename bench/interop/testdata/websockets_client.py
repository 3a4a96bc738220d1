"""Interop check: the Python `websockets` asyncio client against a wsloop echo server.

Usage: /usr/bin/python3 websockets_client.py [--ca CA_FILE] ws://127.0.0.1:PORT/
With --ca the URL is wss:// and CA_FILE is the PEM certificate of the CA that
signed the server's certificate. Prints OK on success; exits non-zero with an
explanation otherwise.
"""
import asyncio
import os
import ssl
import sys

import websockets


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def text(n):
    s = ("wsloop é€𝄞 " * (n // 8 + 1)).encode("utf-8")[:n]
    # Trim a partial trailing character and pad with ASCII to exactly n bytes.
    s = s.decode("utf-8", errors="ignore").encode("utf-8")
    return (s + b"x" * (n - len(s))).decode("utf-8")


async def main(url, cafile):
    kw = {}
    if cafile:
        kw["ssl"] = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(url, max_size=None, open_timeout=10,
                                  close_timeout=10, **kw) as ws:
        if cafile:
            print(ws.transport.get_extra_info("ssl_object").version())
        for n in (0, 1, 125, 126, 65535, 65536, 1 << 20):
            t = text(n)
            await ws.send(t)
            got = await asyncio.wait_for(ws.recv(), 30)
            if not isinstance(got, str) or got != t:
                fail("text echo of %d bytes: got %s of length %d" % (n, type(got).__name__, len(got)))
            b = os.urandom(n)
            await ws.send(b)
            got = await asyncio.wait_for(ws.recv(), 30)
            if not isinstance(got, bytes) or got != b:
                fail("binary echo of %d bytes: got %s of length %d" % (n, type(got).__name__, len(got)))
        # Fragmented message: an iterable is sent as one message in fragments.
        parts = [text(1000), text(1), text(4000)]
        await ws.send(parts)
        got = await asyncio.wait_for(ws.recv(), 30)
        if got != "".join(parts):
            fail("fragmented text echo mismatch (%d bytes)" % len(got))
        for payload in (b"", b"ping-payload", os.urandom(125)):
            waiter = await ws.ping(payload)
            await asyncio.wait_for(waiter, 10)
        await ws.close(code=4000, reason="bye")
        code = ws.close_code
        if code != 4000:
            fail("close: server answered close code %r, want 4000" % (code,))
    print("OK")


if __name__ == "__main__":
    args = sys.argv[1:]
    cafile = None
    if len(args) == 3 and args[0] == "--ca":
        cafile, args = args[1], args[2:]
    if len(args) != 1:
        fail("usage: websockets_client.py [--ca CA_FILE] ws://host:port/")
    asyncio.run(asyncio.wait_for(main(args[0], cafile), 120))
