"""Unit tests without a server: the wire forms, token timing and a
Subscription's sequence, snapshot and delta handling."""

import json
import struct
import unittest

from wsloop_client import KIND_DELETE, KIND_EVENT, KIND_SNAPSHOT, KIND_UPDATE, Backoff, Position, Publication
from wsloop_client.subscription import HEAL, RESNAPSHOT, Subscription
from wsloop_client.token import jwt_expiry, refresh_delay
from wsloop_client.wire import KIND_DELTA, encode_request, parse_binary, parse_text

from .wsloop_server import mint

E = "9f86d081884c7d65"
E2 = "0000000000000001"


def binary(kind, topic, epoch, seq, key, data):
    t, k = topic.encode(), key.encode()
    return bytes([kind, len(t)]) + t + struct.pack(">QQ", int(epoch, 16), seq) + bytes([len(k)]) + k + data


class WireTest(unittest.TestCase):
    def test_binary_kinds(self):
        for byte, kind in [(1, KIND_UPDATE), (2, KIND_DELTA), (3, KIND_SNAPSHOT), (4, KIND_DELETE), (5, KIND_EVENT)]:
            with self.subTest(kind):
                p = parse_binary(binary(byte, "md.AAPL", E, 42, "AAPL", b"\x00\xffdata"))
                self.assertEqual(p, Publication("md.AAPL", Position(E, 42), "AAPL", b"\x00\xffdata", kind))

    def test_binary_keyless_and_empty(self):
        p = parse_binary(binary(1, "t", E, 1, "", b""))
        self.assertEqual((p.key, p.data), ("", b""))

    def test_binary_malformed(self):
        good = binary(1, "md.AAPL", E, 42, "AAPL", b"x")
        for bad in [b"", b"\x01", bytes([9]) + good[1:], good[:2 + 7 + 16], good[:2 + 7 + 17 + 3]]:
            with self.subTest(bad):
                with self.assertRaises(ValueError):
                    parse_binary(bad)

    def test_json_msg(self):
        a, p = parse_text('{"op":"msg","topic":"md.AAPL","epoch":"%s","seq":42,"key":"AAPL","data":{"px": 101.5}}' % E)
        self.assertIsNone(a)
        self.assertEqual(p, Publication("md.AAPL", Position(E, 42), "AAPL", b'{"px":101.5}', KIND_UPDATE))
        self.assertEqual(p.json(), {"px": 101.5})
        _, p = parse_text('{"op":"msg","topic":"t","epoch":"%s","seq":1,"data":"not json"}' % E)
        self.assertEqual((p.key, p.data), ("", b"not json"))
        for kind in (KIND_SNAPSHOT, KIND_DELETE, KIND_EVENT):
            _, p = parse_text('{"op":"msg","topic":"t","epoch":"%s","seq":1,"key":"k","kind":"%s"}' % (E, kind))
            self.assertEqual((p.kind, p.data), (kind, b""))

    def test_json_answers_and_malformed(self):
        a, p = parse_text('{"op":"subscribed","id":1,"topic":"t","epoch":"%s","seq":4}' % E)
        self.assertEqual((a["op"], p), ("subscribed", None))
        for bad in ["nope", "[]", '{"id":1}', '{"op":"msg","epoch":"xyz","seq":1}',
                    '{"op":"msg","topic":"t","epoch":"%s","seq":1,"kind":"other"}' % E]:
            with self.subTest(bad):
                with self.assertRaises(ValueError):
                    parse_text(bad)

    def test_encode_request(self):
        r = json.loads(encode_request("subscribe", 3, topic="t", since=Position(E, 41), conflate=False,
                                      snapshot=True, delta=None))
        self.assertEqual(r, {"op": "subscribe", "id": 3, "topic": "t", "since": {"epoch": E, "seq": 41},
                             "snapshot": True})
        r = json.loads(encode_request("publish", 4, topic="t", data=False, key=None))
        self.assertEqual(r, {"op": "publish", "id": 4, "topic": "t", "data": False})


class TokenTest(unittest.TestCase):
    def test_jwt_expiry(self):
        self.assertEqual(jwt_expiry(mint({"sub": "a", "exp": 1767225600})), 1767225600.0)
        for bad in [None, "", "a.b", "a.!!!.c", mint({"sub": "a"}), mint({"exp": "soon"}), mint({"exp": True})]:
            with self.subTest(bad):
                self.assertIsNone(jwt_expiry(bad))

    def test_refresh_delay(self):
        self.assertEqual(refresh_delay(exp=1000, issued=0, now=0, margin=30, fraction=0.1), 970)
        self.assertEqual(refresh_delay(exp=60, issued=0, now=0, margin=30, fraction=0.1), 54)
        self.assertEqual(refresh_delay(exp=60, issued=0, now=59, margin=30, fraction=0.1), 0)


class BackoffTest(unittest.TestCase):
    def test_delays(self):
        b = Backoff(initial=0.1, max=1.0, jitter=0.5)
        for attempt, full in [(0, 0.1), (1, 0.2), (3, 0.8), (4, 1.0), (100, 1.0)]:
            for _ in range(20):
                self.assertTrue(full * 0.5 <= b.delay(attempt) <= full, (attempt, b.delay(attempt)))
        self.assertEqual(Backoff(initial=0.1, max=1.0, jitter=0).delay(2), 0.4)


class SubscriptionTest(unittest.IsolatedAsyncioTestCase):
    def sub(self, **kw):
        opts = dict(since=None, snapshot=False, delta=False, conflate=False, on_publication=None)
        opts.update(kw)
        s = Subscription("t", **opts)
        self.got = []
        s._callback = lambda _, p: self.got.append(p)
        return s

    def pub(self, seq, key="k", data=b"v", kind=KIND_UPDATE, epoch=E):
        return Publication("t", Position(epoch, seq), key, data, kind)

    def answer(self, s, seq, **extra):
        s._request(1)
        s._on_subscribed({"op": "subscribed", "id": 1, "topic": "t", "epoch": E, "seq": seq, **extra})

    async def test_sequence_gaps_and_duplicates(self):
        s = self.sub()
        self.assertIsNone(s._on_publication(self.pub(1)), "before the answer: dropped")
        self.answer(s, 5)
        self.assertIsNone(s._on_publication(self.pub(6)))
        self.assertIsNone(s._on_publication(self.pub(6)), "duplicate")
        self.assertIsNone(s._on_publication(self.pub(3)), "old")
        self.assertEqual(s._on_publication(self.pub(8)), HEAL)
        self.assertEqual(s._on_publication(self.pub(7, epoch=E2)), HEAL)
        self.assertEqual([p.position.seq for p in self.got], [6])
        self.assertEqual(s.position, Position(E, 6))
        self.assertEqual(s._request(2)["since"], Position(E, 6))

    async def test_conflate_skips_but_never_backwards(self):
        s = self.sub(conflate=True)
        self.answer(s, 1)
        for seq in (2, 5, 4, 5, 9):
            self.assertIsNone(s._on_publication(self.pub(seq)))
        self.assertEqual([p.position.seq for p in self.got], [2, 5, 9])

    async def test_state_snapshot_delete_event(self):
        s = self.sub(snapshot=True)
        s.state = {"old": b"x"}
        self.answer(s, 10, snapshot=2, recovery="snapshot")
        self.assertEqual(s.state, {"old": b"x"}, "a snapshot replaces the state when complete")
        self.assertFalse(s.active)
        s._on_publication(self.pub(3, "a", b"1", KIND_SNAPSHOT))
        s._on_publication(self.pub(9, "b", b"2", KIND_SNAPSHOT))
        self.assertEqual(s.state, {"a": b"1", "b": b"2"})
        self.assertTrue(s.active)
        self.assertEqual(s.position, Position(E, 10), "snapshot entries do not move the position")
        s._on_publication(self.pub(11, "a", b"", KIND_DELETE))
        s._on_publication(self.pub(12, "trade", b"t", KIND_EVENT))
        s._on_publication(self.pub(13, "", b"keyless"))
        s._on_publication(self.pub(14, "c", b"3"))
        self.assertEqual(s.state, {"b": b"2", "c": b"3"})
        self.assertEqual([p.kind for p in self.got], [KIND_SNAPSHOT] * 2 + [KIND_DELETE, KIND_EVENT, KIND_UPDATE, KIND_UPDATE])

    async def test_empty_snapshot(self):
        s = self.sub(snapshot=True)
        s.state = {"old": b"x"}
        self.answer(s, 0, snapshot=0)
        self.assertEqual(s.state, {})

    async def test_deltas(self):
        s = self.sub(snapshot=True, delta=True)
        self.answer(s, 1, snapshot=1)
        s._on_publication(self.pub(1, "a", b"hello world, hello fossil, hello delta format", KIND_SNAPSHOT))
        self.assertIsNone(s._on_publication(self.pub(2, "a", b"i\nB@0,1:.X@C,2G3S5E;", KIND_DELTA)))
        self.assertEqual(s.state["a"], b"hello world. hello fossil, hello delta format")
        self.assertEqual(self.got[-1].kind, KIND_UPDATE)
        self.assertEqual(s._on_publication(self.pub(3, "a", b"garbage", KIND_DELTA)), RESNAPSHOT)
        self.assertNotIn("since", s._request(2), "after a failed delta: a fresh snapshot")

    async def test_delta_without_base(self):
        s = self.sub(snapshot=True, delta=True)
        self.answer(s, 0, snapshot=0)
        self.assertEqual(s._on_publication(self.pub(1, "new", b"1\n0;", KIND_DELTA)), RESNAPSHOT)

    async def test_iterator_ends(self):
        s = Subscription("t", since=None, snapshot=False, delta=False, conflate=False, on_publication=None)
        self.answer(s, 0)
        s._on_publication(self.pub(1))
        s._end()
        got = [p async for p in s]
        self.assertEqual(len(got), 1)
        self.assertEqual([p async for p in s], [])
