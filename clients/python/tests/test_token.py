"""The client against wsloop -mode pubsub -jwt-secret-file: tokens in the
query, automatic refresh before expiry, reconnection with a new token after
close 3000, entitlements (forbidden subscribe, publish) and refresh
answers."""

import time

from .support import require_websockets

require_websockets()

from websockets.exceptions import InvalidStatusCode

from wsloop_client import Client, Position, ServerError

from .case import ServerCase
from .support import TIMEOUT, take
from .wsloop_server import mint



def claims(lifetime, sub="alice", subscribe=("md.*", "orders.alice"), publish=("orders.alice",)):
    exp = int(time.time()) + lifetime
    return {"sub": sub, "exp": exp, "subscribe": list(subscribe), "publish": list(publish)}


class Tokens:
    """A token callable that mints tokens with the given lifetimes, the
    last one repeated; records the expiry of each."""

    def __init__(self, *lifetimes, **kw):
        self.lifetimes, self.kw, self.exps = list(lifetimes), kw, []

    def __call__(self):
        life = self.lifetimes[min(len(self.exps), len(self.lifetimes) - 1)]
        c = claims(life, **self.kw)
        self.exps.append(c["exp"])
        return mint(c)


class TokenTest(ServerCase):
    server_kw = {"jwt": True}

    async def client(self, token, **kw) -> Client:
        return await super().client(token=token, **kw)

    async def test_token_in_query_and_entitlements(self):
        with self.assertRaises(InvalidStatusCode) as caught:
            await Client(self.server.url).connect()
        self.assertEqual(caught.exception.status_code, 401)

        async def token():
            return mint(claims(3600))
        c = await self.client(token)
        sub = await c.subscribe("orders.alice")
        with self.assertRaises(ServerError) as refused:
            await c.subscribe("news")
        self.assertEqual(refused.exception.code, "forbidden")
        pos = await c.publish("orders.alice", {"qty": 5}, key="o1")
        self.assertEqual(pos, Position(sub.position.epoch, 1))
        got = await take(sub, 1)
        self.assertEqual((got[0].key, got[0].json()), ("o1", {"qty": 5}))
        with self.assertRaises(ServerError) as refused:
            await c.publish("orders.bob", b"x")
        self.assertEqual(refused.exception.code, "forbidden")

    async def test_refresh_before_expiry(self):
        tokens = Tokens(2)
        c = await self.client(tokens, refresh_fraction=0.5)
        sub = await c.subscribe("md.AAPL")
        first_exp = tokens.exps[0]
        await self.rec.wait(lambda e: e.type == "refreshed" and time.time() > first_exp + 0.2)
        self.assertEqual(self.rec.of("disconnected"), [])
        self.assertEqual(c.connections, 1)
        self.assertGreaterEqual(len(tokens.exps), 2)
        await self.server.publish("md.AAPL", b"1", key="AAPL")
        self.assertEqual((await take(sub, 1))[0].position.seq, 1)

    async def test_expiry_close_3000_reconnects_with_new_token(self):
        tokens = Tokens(2, 3600)
        c = await self.client(tokens, auto_refresh=False)
        sub = await c.subscribe("md.AAPL")
        await self.server.publish("md.AAPL", b"1", key="AAPL")
        await take(sub, 1)
        closed = await self.rec.wait(lambda e: e.type == "disconnected")
        self.assertEqual((closed.code, closed.reason), (3000, "token expired"))
        ev = await self.rec.wait(lambda e: e.type == "subscribed" and e.resubscribed)
        self.assertEqual((ev.recovery, ev.position.seq), ("ok", 1))
        self.assertEqual(len(tokens.exps), 2)
        await self.server.publish("md.AAPL", b"2", key="AAPL")
        self.assertEqual((await take(sub, 1))[0].data, b"2")

    async def test_refresh_answers(self):
        c = await self.client(mint(claims(3600)))
        sub = await c.subscribe("md.AAPL")
        with self.assertRaises(ServerError) as caught:
            await c.refresh(mint(claims(3600, sub="mallory")))
        self.assertEqual(caught.exception.code, "unauthorized")
        narrow = claims(3600, subscribe=("orders.alice",))
        exp = await c.refresh(mint(narrow))
        self.assertEqual(exp, narrow["exp"])
        with self.assertRaises(ServerError) as ended:
            await take(sub, 1, timeout=TIMEOUT)
        self.assertEqual(ended.exception.code, "forbidden")
        self.assertEqual([(e.topic, e.reason) for e in self.rec.of("unsubscribed")], [("md.AAPL", "forbidden")])
