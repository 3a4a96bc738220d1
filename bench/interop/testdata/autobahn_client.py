"""Interop check: Twisted + autobahn WebSocketClientProtocol against a wsloop echo server.

Usage: /usr/bin/python3 autobahn_client.py ws://127.0.0.1:PORT/
Echoes text and binary messages (up to 1 MiB), pings, then closes with code
4000 and checks the server's close frame carries the same code.
Prints OK on success; exits non-zero with an explanation otherwise.
"""
import os
import sys

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor

RESULT = {"error": "did not finish"}
SIZES = (0, 1, 125, 126, 65535, 65536, 1 << 20)


def text(n):
    return ("é" * (n // 2) + "x" * (n % 2)).encode("utf-8")


class Client(WebSocketClientProtocol):
    def onOpen(self):
        self.expected = []
        for n in SIZES:
            self.expected.append((text(n), False))
            self.expected.append((os.urandom(n), True))
        # Pipeline every message at once; they must come back in order.
        for payload, binary in self.expected:
            self.sendMessage(payload, isBinary=binary)
        self.pongs = 0

    def onMessage(self, payload, isBinary):
        want, wantBinary = self.expected.pop(0)
        if payload != want or isBinary != wantBinary:
            RESULT["error"] = "echo mismatch: got %d bytes binary=%s, want %d bytes binary=%s" % (
                len(payload), isBinary, len(want), wantBinary)
            self.sendClose(code=1000)
            return
        if not self.expected:
            self.sendPing(b"autobahn-ping")

    def onPong(self, payload):
        if payload != b"autobahn-ping":
            RESULT["error"] = "pong payload %r" % payload
        else:
            RESULT["error"] = "no close frame from server"
        self.sendClose(code=4000, reason="bye")

    def onClose(self, wasClean, code, reason):
        if RESULT["error"] == "no close frame from server":
            if not wasClean:
                RESULT["error"] = "close not clean: code=%r reason=%r" % (code, reason)
            elif code != 4000:
                RESULT["error"] = "server answered close code %r, want 4000" % (code,)
            else:
                RESULT["error"] = None
        if reactor.running:
            reactor.stop()


def timeout():
    RESULT["error"] = "timed out: " + str(RESULT["error"])
    if reactor.running:
        reactor.stop()


def main(url):
    factory = WebSocketClientFactory(url)
    factory.protocol = Client
    factory.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0,
                               closeHandshakeTimeout=10, openHandshakeTimeout=10)
    host, port = factory.host, factory.port
    reactor.connectTCP(host, port, factory, timeout=10)
    reactor.callLater(60, timeout)
    reactor.run()
    if RESULT["error"]:
        print("FAIL: " + RESULT["error"])
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: autobahn_client.py ws://host:port/")
        sys.exit(2)
    main(sys.argv[1])
