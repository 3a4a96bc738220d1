"""Keyed state against a real wsloop: snapshots in both subprotocols,
deletes and events, "recovery":"snapshot" (history too short, and a
restart), Fossil deltas and a failing delta healed by a fresh snapshot."""

import json

from .support import require_websockets

require_websockets()

from wsloop_client import (KIND_DELETE, KIND_EVENT, KIND_SNAPSHOT, KIND_UPDATE, SUBPROTOCOL_BINARY,
                           SUBPROTOCOL_JSON)
from wsloop_client.wire import KIND_DELTA

from .case import ServerCase
from .support import take


def book(level, px):
    """A JSON order book whose successive versions differ a little, so
    the server sends deltas."""
    return json.dumps({"sym": "AAPL", "level": level,
                       "bids": [[round(px - i * 0.01, 2), 100 + i] for i in range(20)],
                       "asks": [[round(px + i * 0.01, 2), 200 + i] for i in range(20)]}).encode()


class SnapshotCase(ServerCase):
    def wire_kinds(self, sub):
        """Record the kind of every publication as it came off the wire."""
        kinds = []
        take_publication = sub._on_publication

        def record(pub):
            kinds.append(pub.kind)
            return take_publication(pub)
        sub._on_publication = record
        return kinds


class SnapshotTest(SnapshotCase):

    async def test_snapshot_deletes_events(self):
        for proto in (SUBPROTOCOL_JSON, SUBPROTOCOL_BINARY):
            with self.subTest(proto):
                topic = "md." + proto.replace(".", "_")
                p = self.server.publish
                await p(topic, b'{"px":1}', key="a")
                await p(topic, b'{"px":2}', key="b")
                await p(topic, b'{"px":3}', key="a")
                await p(topic, b'{"trade":1}', key="a", kind="event")
                await p(topic, b"keyless")
                await p(topic, b'{"px":4}', key="c")
                await p(topic, b"", key="c", kind="delete")
                c = await self.client(subprotocol=proto)
                sub = await c.subscribe(topic, snapshot=True)
                self.assertEqual(sub.position.seq, 7)
                entries = await take(sub, 2)
                self.assertEqual([(e.kind, e.key, e.position.seq) for e in entries],
                                 [(KIND_SNAPSHOT, "b", 2), (KIND_SNAPSHOT, "a", 3)])
                self.assertEqual(sub.state, {"a": b'{"px":3}', "b": b'{"px":2}'})
                self.assertEqual(sub.position.seq, 7)
                await p(topic, b"", key="a", kind="delete")
                await p(topic, b'{"trade":2}', key="b", kind="event")
                await p(topic, b'{"px":5}', key="d")
                live = await take(sub, 3)
                self.assertEqual([(e.kind, e.key, e.position.seq) for e in live],
                                 [(KIND_DELETE, "a", 8), (KIND_EVENT, "b", 9), (KIND_UPDATE, "d", 10)])
                self.assertEqual(live[1].data, b'{"trade":2}')
                self.assertEqual(sub.state, {"b": b'{"px":2}', "d": b'{"px":5}'})
                await c.close()

    async def test_restart_replaces_state(self):
        c = await self.client()
        await self.server.publish("md.r", b"1", key="a")
        sub = await c.subscribe("md.r", snapshot=True)
        await take(sub, 1)
        self.assertEqual(sub.state, {"a": b"1"})
        mark = self.rec.mark()
        await self.server.stop()
        await self.rec.wait(lambda e: e.type == "disconnected", start=mark)
        await self.server.start()
        ev = await self.rec.wait(lambda e: e.type == "subscribed" and e.resubscribed, start=mark)
        self.assertEqual((ev.recovery, ev.snapshot), ("snapshot", 0))
        self.assertEqual(sub.state, {})
        await self.server.publish("md.r", b"2", key="b")
        self.assertEqual((await take(sub, 1))[0].key, "b")
        self.assertEqual(sub.state, {"b": b"2"})

    async def test_deltas(self):
        c = await self.client(subprotocol=SUBPROTOCOL_BINARY)
        await self.server.publish("md.book", book(0, 100.0), key="AAPL")
        sub = await c.subscribe("md.book", snapshot=True, delta=True)
        kinds = self.wire_kinds(sub)
        await take(sub, 1)
        versions = [book(i, 100.0 + i / 100) for i in range(1, 6)]
        for v in versions:
            await self.server.publish("md.book", v, key="AAPL")
        got = await take(sub, len(versions))
        self.assertEqual([g.data for g in got], versions)
        self.assertEqual({g.kind for g in got}, {KIND_UPDATE})
        self.assertEqual(sub.state, {"AAPL": versions[-1]})
        self.assertIn(KIND_DELTA, kinds, "the server sent deltas")

    async def test_failing_delta_takes_a_fresh_snapshot(self):
        c = await self.client(subprotocol=SUBPROTOCOL_BINARY)
        await self.server.publish("md.bad", book(0, 100.0), key="AAPL")
        sub = await c.subscribe("md.bad", snapshot=True, delta=True)
        take_publication = sub._on_publication
        spoiled = []

        def spoil(pub):
            if pub.kind == KIND_DELTA and not spoiled:
                spoiled.append(pub)
                pub = pub.__class__(pub.topic, pub.position, pub.key, b"garbage", pub.kind)
            return take_publication(pub)
        sub._on_publication = spoil
        await take(sub, 1)
        await self.server.publish("md.bad", book(1, 100.01), key="AAPL")
        failed = await self.rec.wait(lambda e: e.type == "delta_failed")
        self.assertEqual((failed.topic, failed.key), ("md.bad", "AAPL"))
        ev = await self.rec.wait(lambda e: e.type == "subscribed" and e.resubscribed)
        self.assertIsNone(ev.recovery, "a fresh subscription, not a recovery")
        entry = await take(sub, 1)
        self.assertEqual((entry[0].kind, entry[0].data), (KIND_SNAPSHOT, book(1, 100.01)))
        await self.server.publish("md.bad", book(2, 100.02), key="AAPL")
        self.assertEqual((await take(sub, 1))[0].data, book(2, 100.02))
        self.assertEqual(sub.state, {"AAPL": book(2, 100.02)})
        self.assertEqual(len(spoiled), 1)


class ShortHistoryTest(SnapshotCase):
    """A history of 2 messages: a reconnection that missed more recovers
    with a snapshot while the server stays up."""

    server_args = ("-history", "2")

    async def test_recovery_snapshot_with_short_history(self):
        c = await self.client(subprotocol=SUBPROTOCOL_JSON)
        await self.server.publish("md.h", b"1", key="a")
        sub = await c.subscribe("md.h", snapshot=True)
        await take(sub, 1)
        mark = self.rec.mark()
        c._ws.transport.abort()
        await self.rec.wait(lambda e: e.type == "disconnected", start=mark)
        for key, data in [("b", b"2"), ("a", b"3"), ("c", b"4"), ("b", b"5")]:
            await self.server.publish("md.h", data, key=key)
        await self.server.publish("md.h", b"", key="c", kind="delete")
        ev = await self.rec.wait(lambda e: e.type == "subscribed" and e.resubscribed, start=mark)
        self.assertEqual((ev.recovery, ev.position.seq, ev.snapshot), ("snapshot", 6, 2))
        entries = await take(sub, 2)
        self.assertEqual([(e.key, e.position.seq) for e in entries], [("a", 3), ("b", 5)])
        self.assertEqual(sub.state, {"a": b"3", "b": b"5"})
