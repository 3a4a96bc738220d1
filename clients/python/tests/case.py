"""The base of the tests that run against a real wsloop (import it after
support.require_websockets)."""

import unittest

from wsloop_client import Backoff, Client

from .support import Recorder
from .wsloop_server import Server

#: Reconnection backoff short enough for tests.
FAST = Backoff(initial=0.05, max=0.5, jitter=0.5)


class ServerCase(unittest.IsolatedAsyncioTestCase):
    """A wsloop -mode pubsub per test, Server(*server_args, **server_kw),
    with its clients' events recorded in self.rec."""

    server_args = ()
    server_kw = {}

    async def asyncSetUp(self):
        self.server = Server(*self.server_args, **self.server_kw)
        await self.server.start()
        self.addAsyncCleanup(self.server.close)
        self.rec = Recorder()

    async def client(self, **kw) -> Client:
        """A connected client of the server, closed when the test ends."""
        kw.setdefault("backoff", FAST)
        c = Client(self.server.url, on_event=self.rec.on_event, **kw)
        await c.connect()
        self.addAsyncCleanup(c.close)
        return c
