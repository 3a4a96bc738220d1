"""The wsloop topics client: one WebSocket connection, kept up, carrying
subscriptions, publishes and token refreshes.

Concurrency and ownership: a Client belongs to the asyncio event loop that
calls connect(); call its methods from coroutines on that loop only (it is
not thread-safe). connect() starts one background task that owns the
connection: it reads and dispatches every message, updates subscriptions,
resubscribes after reconnections and gaps, and runs the refresh timer. The
callbacks (on_event, a subscription's on_publication) run on that task:
they must not block and must not await; they may call
asyncio.create_task to start work. An exception raised by a callback closes
the connection with 1011 (the "disconnected" event carries it) and the
client reconnects and resubscribes. Methods may be called concurrently by
several tasks; each request waits for its own answer.

This module holds the API; the parts of Client it is made of live in their
own modules: connection (the background task and reconnections), dispatch
(the server's messages), refresh (token refreshes), pending (requests
awaiting answers), events (Event and its delivery) and errors.
"""

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Dict, Optional

from websockets.exceptions import ConnectionClosed

from .backoff import Backoff
from .connection import ConnectionLoop
from .dispatch import Dispatch
from .errors import ClientClosed, ConnectionLost, ServerError
from .events import Event, EventHub
from .pending import PendingRequests
from .refresh import TokenRefresh
from .subscription import Subscription
from .token import TokenProvider, TokenSource
from .wire import SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON, Position, Publication, answer_position, encode_request

__all__ = ["Client", "Backoff", "Event", "ServerError", "ConnectionLost", "ClientClosed"]


class Client(ConnectionLoop, Dispatch, TokenRefresh):
    """A wsloop topics client.

    Args:
        url: ws://host:port/ of a wsloop server in -mode pubsub or feed.
        token: None, a JWT string, or a callable returning one (sync or
            async), called at each connection attempt and automatic
            refresh; sent as the "token" query parameter.
        subprotocol: "wsloop.bin" (binary publications; needed for
            deltas) or "wsloop.json".
        backoff: reconnection delays (Backoff).
        on_event: callable(Event), run on the client's task.
        auto_refresh: refresh the token before its "exp" (the token must
            be a callable that returns newer tokens).
        refresh_margin, refresh_fraction: refresh refresh_margin seconds
            before exp, or refresh_fraction of the token's lifetime before
            exp when that is shorter.
        request_timeout: seconds a request waits for a connection and for
            its answer.
        open_timeout: seconds a connection attempt may take.
        max_size: largest message accepted, bytes.

    Use it as an async context manager, or call connect() and close().
    """

    def __init__(self, url: str, *, token: TokenProvider = None,
                 subprotocol: str = SUBPROTOCOL_BINARY, backoff: Backoff = Backoff(),
                 on_event: Optional[Callable[[Event], None]] = None, auto_refresh: bool = True,
                 refresh_margin: float = 30.0, refresh_fraction: float = 0.1,
                 request_timeout: float = 10.0, open_timeout: float = 10.0,
                 max_size: int = 1 << 24):
        if subprotocol not in (SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON):
            raise ValueError(f"subprotocol must be {SUBPROTOCOL_BINARY!r} or {SUBPROTOCOL_JSON!r}")
        self.url = url
        self.subprotocol = subprotocol
        self.backoff = backoff
        self.auto_refresh = auto_refresh
        self.refresh_margin = refresh_margin
        self.refresh_fraction = refresh_fraction
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.max_size = max_size
        self._tokens = TokenSource(token)
        self._events = EventHub(on_event)
        self._subs: Dict[str, Subscription] = {}
        self._pending = PendingRequests()
        self._ws = None
        self._token: Optional[str] = None
        self._token_time = 0.0
        self._connected: Optional[asyncio.Event] = None
        self._closing: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self._refresher: Optional[asyncio.Task] = None
        self._connections = 0

    async def __aenter__(self) -> "Client":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """Whether a connection is up now."""
        return self._ws is not None

    @property
    def connections(self) -> int:
        """How many connections were made so far (1 + reconnections)."""
        return self._connections

    async def connect(self) -> None:
        """Make the first connection (raising its error, e.g.
        websockets.exceptions.InvalidStatusCode for a 401) and start the
        background task that keeps one up until close()."""
        if self._task is not None:
            raise RuntimeError("connect: already connected once")
        self._connected, self._closing = asyncio.Event(), asyncio.Event()
        ws = await self._open()
        self._task = asyncio.get_running_loop().create_task(self._run(ws), name=f"wsloop {self.url}")

    async def close(self) -> None:
        """Close the connection and end every subscription and events()
        iterator. Idempotent."""
        if self._closing is None or self._closing.is_set():
            return
        self._closing.set()
        ws = self._ws
        if ws is not None:
            await ws.close()
        elif self._task is not None:
            self._task.cancel()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for sub in list(self._subs.values()):
            sub._end()
        self._subs.clear()
        self._events.end()

    def events(self) -> AsyncIterator[Event]:
        """An async iterator of the Events from now on, until close().
        Events are queued for it without bound: iterate it."""
        return self._events.iterate()

    async def subscribe(self, topic: str, *, since: Optional[Position] = None, snapshot: bool = False,
                        delta: bool = False, conflate: bool = False,
                        on_publication: Optional[Callable[[Subscription, Publication], None]] = None
                        ) -> Subscription:
        """Subscribe to topic and return the Subscription once the server
        answered (raising ServerError for a refusal such as "forbidden").

        since: recover from this position (wire.Position). snapshot: take
        the topic's keyed state first, and a fresh one when recovery fails.
        delta: accept Fossil deltas (needs snapshot, "wsloop.bin" and no
        conflate). conflate: latest value per key while the connection is
        behind (sequence numbers may then skip). on_publication: a callback
        instead of the async iterator.
        """
        self._check_open()
        if delta and (not snapshot or conflate or self.subprotocol != SUBPROTOCOL_BINARY):
            raise ValueError("delta needs snapshot=True, no conflate and the wsloop.bin subprotocol")
        if topic in self._subs:
            raise ValueError(f"already subscribed to {topic}")
        sub = Subscription(topic, since=since, snapshot=snapshot, delta=delta, conflate=conflate,
                           on_publication=on_publication)
        self._subs[topic] = sub
        if self._ws is not None:
            await self._send_subscribe(self._ws, sub)
        try:
            return await asyncio.wait_for(asyncio.shield(sub._ready), self.request_timeout)
        except asyncio.TimeoutError:
            self._drop(sub)
            raise ConnectionLost(f"subscribe {topic}: no answer in {self.request_timeout} s") from None
        except asyncio.CancelledError:
            self._drop(sub)
            raise

    async def unsubscribe(self, topic: str) -> None:
        """End the subscription to topic: its iterator stops now; the
        server is told when connected."""
        sub = self._subs.get(topic)
        if sub is None:
            raise ValueError(f"not subscribed to {topic}")
        self._drop(sub)
        if self._ws is not None:
            try:
                await self._request("unsubscribe", topic=topic)
            except ServerError as e:
                if e.code != "not_subscribed":
                    raise
            except ConnectionLost:
                pass

    async def publish(self, topic: str, data: Any, key: Optional[str] = None) -> Position:
        """Publish data on topic (the token's "publish" claim must allow
        it) and return its position. data is any JSON value; bytes are
        sent as their UTF-8 text (a JSON string is published as its text).
        Raises ServerError ("forbidden", ...) or ConnectionLost."""
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data).decode("utf-8")
        answer = await self._request("publish", topic=topic, key=key or None, data=data)
        return answer_position(answer)

    async def refresh(self, token: Optional[str] = None) -> float:
        """Send a new token (token, or the token callable's next one) before
        the current one expires; returns the new expiry (Unix seconds).
        Raises ServerError("unauthorized", ...) when the server refuses it."""
        if token is None:
            token = await self._tokens.get()
        else:
            self._tokens.replace(token)
        exp = await self._refresh_with(token)
        self._start_refresher()
        return exp

    def _check_open(self) -> None:
        if self._closing is None:
            raise ClientClosed("not connected: call connect() first")
        if self._closing.is_set():
            raise ClientClosed("the client is closed")

    def _emit(self, event: Event) -> None:
        self._events.emit(event)

    def _drop(self, sub: Subscription, error: Optional[BaseException] = None) -> None:
        if self._subs.get(sub.topic) is sub:
            del self._subs[sub.topic]
        self._pending.discard(sub._req_id)
        sub._end(error)

    async def _request(self, op: str, **members: Any) -> dict:
        """Send a request when connected (waiting for a connection up to
        the request timeout) and return its answer."""
        self._check_open()
        deadline = time.monotonic() + self.request_timeout
        try:
            await asyncio.wait_for(self._connected.wait(), self.request_timeout)
        except asyncio.TimeoutError:
            raise ConnectionLost(f"{op}: not connected within {self.request_timeout} s") from None
        ws = self._ws
        if ws is None:
            raise ConnectionLost(f"{op}: the connection ended")
        req_id, fut = self._pending.expect()
        try:
            await ws.send(encode_request(op, req_id, **members))
            return await asyncio.wait_for(fut, max(deadline - time.monotonic(), 0.001))
        except ConnectionClosed:
            raise ConnectionLost(f"{op}: the connection ended") from None
        except asyncio.TimeoutError:
            raise ConnectionLost(f"{op}: no answer in {self.request_timeout} s") from None
        finally:
            self._pending.discard(req_id)

    async def _send_subscribe(self, ws, sub: Subscription) -> None:
        req_id = self._pending.track(sub)
        try:
            await ws.send(encode_request("subscribe", req_id, **sub._request(req_id)))
        except ConnectionClosed:
            pass
