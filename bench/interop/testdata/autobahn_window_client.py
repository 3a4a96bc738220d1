"""Interop check: permessage-deflate with a 256-byte server window (RFC 7692
section 7.1.2.1), offered as Autobahn's fuzzingclient offers it in cases 13.3
and 13.5, with Twisted + autobahn against a wsloop echo server.

Usage: /usr/bin/python3 autobahn_window_client.py CASE ws://127.0.0.1:PORT/
  CASE  13.3  PerMessageDeflateOffer(requestMaxWindowBits=8)
        13.5  PerMessageDeflateOffer(requestNoContextTakeover=True, requestMaxWindowBits=8)

The server must accept the offer and answer server_max_window_bits=8 (a server
that declines makes Autobahn report the case UNIMPLEMENTED). The client then
echoes text and binary messages of several sizes, one at a time as the 13.x
cases do, decompressing the server's messages with autobahn's own zlib
decompressor at window 8. Every compressed message from the server is also
inflated with zlib producing one byte per call, so that a back-reference
further than 256 bytes fails even where a larger output buffer would hide it.
Then the client closes with 1000 and wants a clean close with 1000.
Prints OK on success; exits non-zero with an explanation otherwise.
"""
import hashlib
import random
import sys
import zlib

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket.compress import (PerMessageDeflateMixin, PerMessageDeflateOffer,
                                         PerMessageDeflateResponse, PerMessageDeflateResponseAccept)
from twisted.internet import reactor

WINDOW_BITS = 8

# The autobahn that Autobahn|Testsuite runs on permits window sizes 8-15;
# later releases permit 9-15 only (zlib's raw deflate no longer compresses
# with 8). This client only decompresses at 8, which zlib still does.
PerMessageDeflateMixin.WINDOW_SIZE_PERMISSIBLE_VALUES = list(range(8, 16))

# The offers of the fuzzingclient's cases (autobahntestsuite case13 DEFLATE_PARAMS).
OFFERS = {
    "13.3": PerMessageDeflateOffer(request_no_context_takeover=False, request_max_window_bits=WINDOW_BITS),
    "13.5": PerMessageDeflateOffer(request_no_context_takeover=True, request_max_window_bits=WINDOW_BITS),
}

SIZES = (0, 1, 125, 126, 255, 256, 4096, 65536, 1 << 20)
RESULT = {"error": "did not finish", "answer": None, "compressed": 0}


def market_data(n, rng):
    """n bytes of JSON-like quotes and trades: repetitive, but not in a short period."""
    syms = ["BTC-USD", "ETH-USD", "SOL-USD", "AAPL", "MSFT", "EUR-USD", "XAU-USD", "NVDA"]
    out = []
    size = 0
    seq = 1000000
    while size < n:
        px = rng.randrange(100, 90000)
        if rng.random() < 0.5:
            line = '{"type":"quote","sym":"%s","bid":%.2f,"ask":%.2f,"seq":%d}\n' % (
                rng.choice(syms), px / 100, (px + rng.randrange(1, 20)) / 100, seq)
        else:
            line = '{"type":"trade","sym":"%s","px":%.2f,"qty":%d,"side":"%s","seq":%d}\n' % (
                rng.choice(syms), px / 100, rng.randrange(1, 5000), rng.choice(["buy", "sell"]), seq)
        out.append(line)
        size += len(line)
        seq += 1
    return "".join(out)[:n].encode("ascii")


def binary(n, rng):
    """n bytes: a random 1000-byte block repeated, so matches lie 1000 bytes back."""
    block = bytes(rng.getrandbits(8) for _ in range(1000))
    return (block * (n // 1000 + 1))[:n]


def strict_inflate(payload):
    """Inflates a permessage-deflate payload at window WINDOW_BITS, one output
    byte per zlib call, so every distance is checked against the window."""
    data = payload + b"\x00\x00\xff\xff"
    d = zlib.decompressobj(-WINDOW_BITS)
    out = []
    for i in range(0, len(data), 64):
        buf = data[i:i + 64]
        while buf:
            out.append(d.decompress(buf, 1))
            buf = d.unconsumed_tail
    while True:
        b = d.decompress(b"", 1)
        if not b:
            break
        out.append(b)
    return b"".join(out)


def fail(proto, msg):
    if RESULT["error"] in ("did not finish", None):
        RESULT["error"] = msg
    proto.sendClose(code=1000)


class WindowChecks:
    """Wraps the connection's PerMessageDeflate: keeps each compressed
    message, reports zlib errors, and inflates it strictly at its end."""

    def __init__(self, proto, pmce):
        self.proto = proto
        self.pmce = pmce
        self.chunks = []
        self.start = pmce.start_decompress_message
        self.data = pmce.decompress_message_data
        self.end = pmce.end_decompress_message
        pmce.start_decompress_message = self.start_message
        pmce.decompress_message_data = self.message_data
        pmce.end_decompress_message = self.end_message

    def describe(self):
        return "the server's echo of message %d (%s)" % (self.proto.index + 1, self.proto.current)

    def start_message(self):
        self.chunks = []
        RESULT["compressed"] += 1
        return self.start()

    def message_data(self, data):
        self.chunks.append(bytes(data))
        try:
            return self.data(data)
        except zlib.error as e:
            RESULT["error"] = "%s: autobahn's zlib at window %d: %s" % (self.describe(), WINDOW_BITS, e)
            raise

    def end_message(self):
        self.end()
        payload = b"".join(self.chunks)
        try:
            strict_inflate(payload)
        except zlib.error as e:
            RESULT["error"] = ("%s, %d compressed bytes: refers back further than server_max_window_bits=%d "
                               "allows: zlib at window %d, one output byte per call: %s"
                               % (self.describe(), len(payload), WINDOW_BITS, WINDOW_BITS, e))


class Client(WebSocketClientProtocol):
    def onOpen(self):
        pmce = self._perMessageCompress
        if pmce is None:
            fail(self, "the server declined the offer (Autobahn reports the case UNIMPLEMENTED); answer: %r"
                 % (RESULT["answer"],))
            return
        answer = RESULT["answer"]
        if answer is None or answer.server_max_window_bits != WINDOW_BITS:
            fail(self, "the answer %r does not carry server_max_window_bits=%d" % (answer, WINDOW_BITS))
            return
        if pmce.server_max_window_bits != WINDOW_BITS:
            fail(self, "autobahn decompresses at window %d, want %d" % (pmce.server_max_window_bits, WINDOW_BITS))
            return
        WindowChecks(self, pmce)
        rng = random.Random(7692)
        self.plan = []
        for n in SIZES:
            self.plan.append(("text", market_data(n, rng)))
            self.plan.append(("binary", binary(n, rng)))
        self.index = -1
        self.send_next()

    def send_next(self):
        self.index += 1
        if self.index == len(self.plan):
            if RESULT["compressed"] == 0:
                fail(self, "the server sent no compressed message, so its window was not exercised")
                return
            RESULT["error"] = "no close frame from server"
            self.sendClose(code=1000)
            return
        kind, payload = self.plan[self.index]
        self.current = "%s, %d bytes" % (kind, len(payload))
        self.want = (hashlib.sha1(payload).digest(), kind == "binary")
        self.sendMessage(payload, isBinary=kind == "binary")

    def onMessage(self, payload, isBinary):
        if RESULT["error"] not in ("did not finish", None):
            self.sendClose(code=1000)
            return
        if (hashlib.sha1(payload).digest(), isBinary) != self.want:
            fail(self, "echo of message %d (%s) differs: got %d bytes, binary=%s"
                 % (self.index + 1, self.current, len(payload), isBinary))
            return
        self.send_next()

    def onClose(self, wasClean, code, reason):
        if RESULT["error"] == "no close frame from server":
            if not wasClean:
                RESULT["error"] = "close not clean: code=%r reason=%r" % (code, reason)
            elif code != 1000:
                RESULT["error"] = "server answered close code %r, want 1000" % (code,)
            else:
                RESULT["error"] = None
        elif RESULT["error"] == "did not finish":
            RESULT["error"] = "connection closed early: clean=%s code=%r reason=%r" % (wasClean, code, reason)
        if reactor.running:
            reactor.stop()


def accept(response):
    """Accepts any permessage-deflate answer, as the 13.x cases do, and keeps it."""
    if isinstance(response, PerMessageDeflateResponse):
        RESULT["answer"] = response
        return PerMessageDeflateResponseAccept(response)
    return None


def timeout():
    RESULT["error"] = "timed out: " + str(RESULT["error"])
    if reactor.running:
        reactor.stop()


def main(case, url):
    offer = OFFERS[case]
    print("OFFER " + offer.get_extension_string())
    factory = WebSocketClientFactory(url)
    factory.protocol = Client
    factory.setProtocolOptions(perMessageCompressionOffers=[offer], perMessageCompressionAccept=accept,
                               maxMessagePayloadSize=0, maxFramePayloadSize=0,
                               closeHandshakeTimeout=10, openHandshakeTimeout=10)
    reactor.connectTCP(factory.host, factory.port, factory, timeout=10)
    reactor.callLater(90, timeout)
    reactor.run()
    print("ANSWER %r" % (RESULT["answer"],))
    print("COMPRESSED %d messages from the server" % RESULT["compressed"])
    if RESULT["error"]:
        print("FAIL: " + RESULT["error"])
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in OFFERS:
        print("usage: autobahn_window_client.py 13.3|13.5 ws://host:port/")
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
