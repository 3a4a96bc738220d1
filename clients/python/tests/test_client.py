"""The client against a real wsloop -mode pubsub process: subscribe and
unsubscribe in both subprotocols, recovery after a dropped connection,
restart (new epoch: recovery failed), gap healing, error answers."""

import asyncio

from .support import require_websockets

require_websockets()

from wsloop_client import SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON, Client, ServerError

from .case import FAST, ServerCase
from .support import TIMEOUT, take

class ClientTest(ServerCase):
    async def publish(self, topic, n, key="K", start=0):
        return [await self.server.publish(topic, b'{"n":%d}' % (start + i), key=key) for i in range(n)]

    async def test_subscribe_unsubscribe(self):
        for proto in (SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON):
            with self.subTest(proto):
                topic = "md." + proto.replace(".", "_")
                c = await self.client(subprotocol=proto)
                sub = await c.subscribe(topic)
                self.assertEqual(sub.position.seq, 0)
                await self.publish(topic, 2, key="AAPL")
                await self.server.publish(topic, b"trade", key=None)
                got = await take(sub, 3)
                self.assertEqual([p.position.seq for p in got], [1, 2, 3])
                self.assertEqual([p.data for p in got], [b'{"n":0}', b'{"n":1}', b"trade"])
                self.assertEqual([p.key for p in got], ["AAPL", "AAPL", ""])
                self.assertEqual(sub.state, {"AAPL": b'{"n":1}'})
                self.assertEqual(sub.position.seq, 3)
                await c.unsubscribe(topic)
                self.assertEqual([p async for p in sub], [])
                again = await c.subscribe(topic)
                self.assertEqual(again.position, sub.position)
                await c.close()

    async def test_recovery_after_dropped_connection(self):
        c = await self.client()
        sub = await c.subscribe("md.rec")
        await self.publish("md.rec", 3)
        self.assertEqual([p.position.seq for p in await take(sub, 3)], [1, 2, 3])
        mark = self.rec.mark()
        c._ws.transport.abort()
        await self.rec.wait(lambda e: e.type == "disconnected", start=mark)
        await self.publish("md.rec", 3, start=3)
        ev = await self.rec.wait(lambda e: e.type == "subscribed" and e.resubscribed, start=mark)
        self.assertEqual(ev.recovery, "ok")
        self.assertEqual(ev.position.seq, 3)
        await self.publish("md.rec", 1, start=6)
        got = await take(sub, 4)
        self.assertEqual([p.position.seq for p in got], [4, 5, 6, 7])
        self.assertEqual([p.json()["n"] for p in got], [3, 4, 5, 6])
        self.assertEqual(c.connections, 2)

    async def test_restart_is_recovery_failed(self):
        c = await self.client()
        sub = await c.subscribe("md.restart")
        await self.publish("md.restart", 2)
        await take(sub, 2)
        old = sub.position
        mark = self.rec.mark()
        await self.server.stop()
        await self.rec.wait(lambda e: e.type == "disconnected", start=mark)
        await self.server.start()
        ev = await self.rec.wait(lambda e: e.type == "subscribed" and e.resubscribed, start=mark)
        self.assertEqual(ev.recovery, "failed")
        self.assertNotEqual(ev.position.epoch, old.epoch)
        await self.publish("md.restart", 1)
        got = await take(sub, 1)
        self.assertEqual(got[0].position.epoch, ev.position.epoch)
        self.assertEqual(got[0].position.seq, ev.position.seq + 1)

    async def test_gap_is_healed(self):
        c = await self.client()
        sub = await c.subscribe("md.gap")
        take_publication = sub._on_publication
        lost = []

        def lossy(pub):
            if pub.position.seq == 2 and not lost:
                lost.append(pub)
                return None
            return take_publication(pub)
        sub._on_publication = lossy
        await self.publish("md.gap", 3)
        got = await take(sub, 3)
        self.assertEqual([p.position.seq for p in got], [1, 2, 3])
        self.assertEqual(len(lost), 1)
        gap = self.rec.of("gap")
        self.assertEqual([(g.position.seq, g.got.seq) for g in gap], [(1, 3)])
        ev = await self.rec.wait(lambda e: e.type == "subscribed" and e.resubscribed)
        self.assertEqual((ev.recovery, ev.position.seq), ("ok", 1))
        self.assertEqual(c.connections, 1)

    async def test_conflated_skip_is_not_a_gap(self):
        c = await self.client()
        sub = await c.subscribe("md.conf", conflate=True)
        take_publication = sub._on_publication
        sub._on_publication = lambda pub: None if pub.position.seq == 2 else take_publication(pub)
        await self.publish("md.conf", 3)
        got = await take(sub, 2)
        self.assertEqual([p.position.seq for p in got], [1, 3])
        self.assertEqual(self.rec.of("gap"), [])

    async def test_recovery_from_since(self):
        c = await self.client()
        first = await c.subscribe("md.since")
        await self.publish("md.since", 4)
        got = await take(first, 4)
        await c.unsubscribe("md.since")
        sub = await c.subscribe("md.since", since=got[1].position)
        self.assertEqual(sub.recovery, "ok")
        self.assertEqual([p.position.seq for p in await take(sub, 2)], [3, 4])

    async def test_errors(self):
        c = await self.client(subprotocol=SUBPROTOCOL_JSON)
        with self.assertRaises(ServerError) as caught:
            await c.subscribe("bad topic")
        self.assertEqual(caught.exception.code, "bad_topic")
        with self.assertRaises(ServerError) as caught:
            await c.publish("md.x", {"qty": 1})
        self.assertEqual(caught.exception.code, "forbidden")
        with self.assertRaises(ServerError) as caught:
            await c.refresh("not.a.token")
        self.assertEqual(caught.exception.code, "bad_request")
        with self.assertRaises(ValueError):
            await c.subscribe("md.x", snapshot=True, delta=True)
        self.assertTrue(c.connected)

    async def test_events_iterator_and_context_manager(self):
        async with Client(self.server.url, backoff=FAST) as c:
            events = c.events()
            await c.subscribe("md.ev")
            first = [await asyncio.wait_for(events.__anext__(), TIMEOUT) for _ in range(2)]
            self.assertEqual([(e.type, e.topic) for e in first], [("connected", None), ("subscribed", "md.ev")])
        rest = await asyncio.wait_for(self.drain(events), TIMEOUT)
        self.assertEqual([e.type for e in rest], ["disconnected"])

    @staticmethod
    async def drain(events):
        return [e async for e in events]
