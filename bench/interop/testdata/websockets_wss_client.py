"""Interop check: the Python `websockets` client against a wsloop echo server over wss.

Usage: /usr/bin/python3 websockets_wss_client.py CA_FILE wss://127.0.0.1:PORT/
CA_FILE is the PEM certificate of the CA that signed the server's certificate.
Prints OK on success; exits non-zero with an explanation otherwise.
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
    s = ("wss é€𝄞 " * (n // 6 + 1)).encode("utf-8")[:n]
    s = s.decode("utf-8", errors="ignore").encode("utf-8")
    return (s + b"x" * (n - len(s))).decode("utf-8")


async def main(cafile, url):
    ctx = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(url, ssl=ctx, max_size=None, open_timeout=10,
                                  close_timeout=10) as ws:
        version = ws.transport.get_extra_info("ssl_object").version()
        for n in (0, 1, 125, 126, 16384, 65535, 65536, 1 << 20):
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
        waiter = await ws.ping(b"wss")
        await asyncio.wait_for(waiter, 10)
        await ws.close(code=1000, reason="bye")
        if ws.close_code != 1000:
            fail("close: server answered close code %r, want 1000" % (ws.close_code,))
    print("%s OK" % version)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: websockets_wss_client.py CA_FILE wss://host:port/")
    asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 120))
