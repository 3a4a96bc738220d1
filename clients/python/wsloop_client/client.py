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
"""

import asyncio
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Union

import websockets
from websockets.exceptions import ConnectionClosed

from .backoff import Backoff
from .subscription import HEAL, RESNAPSHOT, Subscription
from .token import TokenProvider, TokenSource, jwt_expiry, refresh_delay
from .wire import (CLOSE_TOKEN_EXPIRED, SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON, Position,
                   Publication, answer_position, encode_request, parse_binary, parse_text)

__all__ = ["Client", "Backoff", "Event", "ServerError", "ConnectionLost", "ClientClosed"]


class ServerError(Exception):
    """The server's "error" answer to a request (or the reason it ended a
    subscription): code is one of the protocol's codes, e.g. "forbidden"."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(Exception):
    """A request could not be answered: the connection ended first, or
    none came up within the request timeout."""


class ClientClosed(Exception):
    """The client is closed (or was never connected)."""


@dataclass(frozen=True)
class Event:
    """Something that happened to the connection or a subscription.

    type is one of:
        "connected"        a connection is up (reconnect: True after the first)
        "disconnected"     it ended: code and reason (the close frame's, or
                           1006 with no close frame); error, if it failed
        "connect_failed"   an attempt failed: error
        "subscribed"       a subscribe answer: topic, position, recovery,
                           resubscribed (True for automatic ones)
        "gap"              a publication skipped (or left the epoch): topic,
                           position (last taken), got (the arrived one);
                           the client resubscribes from position
        "delta_failed"     a delta could not be applied: topic, key; the
                           client resubscribes with a fresh snapshot
        "unsubscribed"     the server ended a subscription: topic, reason
        "refreshed"        the server took a new token: exp
        "refresh_failed"   automatic refresh gave up: error
        "error"            an error answer to no pending request, or a
                           malformed message: error
    """

    type: str
    topic: Optional[str] = None
    position: Optional[Position] = None
    got: Optional[Position] = None
    recovery: Optional[str] = None
    resubscribed: bool = False
    reconnect: bool = False
    key: Optional[str] = None
    code: Optional[int] = None
    reason: Optional[str] = None
    exp: Optional[float] = None
    error: Optional[BaseException] = None


_EVENTS_END = object()


class Client:
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
        self._on_event = on_event
        self._event_queues: List[asyncio.Queue] = []
        self._subs: Dict[str, Subscription] = {}
        self._pending: Dict[int, Union[asyncio.Future, Subscription]] = {}
        self._next_id = 0
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
        for q in self._event_queues:
            q.put_nowait(_EVENTS_END)

    def events(self) -> AsyncIterator[Event]:
        """An async iterator of the Events from now on, until close().
        Events are queued for it without bound: iterate it."""
        q: asyncio.Queue = asyncio.Queue()
        self._event_queues.append(q)

        async def iterate():
            try:
                while True:
                    e = await q.get()
                    if e is _EVENTS_END:
                        return
                    yield e
            finally:
                self._event_queues.remove(q)
        return iterate()

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
        if self._on_event is not None:
            self._on_event(event)
        for q in self._event_queues:
            q.put_nowait(event)

    def _drop(self, sub: Subscription, error: Optional[BaseException] = None) -> None:
        if self._subs.get(sub.topic) is sub:
            del self._subs[sub.topic]
        if sub._req_id is not None:
            self._pending.pop(sub._req_id, None)
        sub._end(error)

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

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
        req_id = self._id()
        fut = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            await ws.send(encode_request(op, req_id, **members))
            return await asyncio.wait_for(fut, max(deadline - time.monotonic(), 0.001))
        except ConnectionClosed:
            raise ConnectionLost(f"{op}: the connection ended") from None
        except asyncio.TimeoutError:
            raise ConnectionLost(f"{op}: no answer in {self.request_timeout} s") from None
        finally:
            self._pending.pop(req_id, None)

    async def _refresh_with(self, token: Optional[str]) -> float:
        if not token:
            raise ValueError("refresh: no token")
        answer = await self._request("refresh", token=token)
        self._token, self._token_time = token, time.time()
        exp = answer.get("exp")
        self._emit(Event("refreshed", exp=exp))
        return exp

    async def _open(self):
        """Connect once with a fresh token."""
        token = await self._tokens.get()
        url = self.url
        if token:
            parts = urllib.parse.urlsplit(url)
            query = urllib.parse.parse_qsl(parts.query) + [("token", token)]
            url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        ws = await websockets.connect(url, subprotocols=[self.subprotocol], open_timeout=self.open_timeout,
                                      max_size=self.max_size, ping_interval=None)
        self._token, self._token_time = token, time.time()
        return ws

    async def _run(self, ws) -> None:
        """The background task: serve connections, reconnect with backoff
        (at once after close 3000, token expired: a new token is all it
        takes; a token still refused gets backoff as a failed attempt)."""
        attempt = 0
        while not self._closing.is_set():
            if ws is None:
                try:
                    ws = await self._open()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self._emit(Event("connect_failed", error=e))
                    await self._pause(self.backoff.delay(attempt))
                    attempt += 1
                    continue
            attempt = 0
            code = await self._serve(ws)
            ws = None
            if code == CLOSE_TOKEN_EXPIRED:
                continue
            if not self._closing.is_set():
                await self._pause(self.backoff.delay(attempt))
                attempt += 1

    async def _pause(self, seconds: float) -> None:
        """Wait seconds, or less when close() is called."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _serve(self, ws) -> Optional[int]:
        """Carry one connection until it ends; returns its close code."""
        self._connections += 1
        self._ws = ws
        self._connected.set()
        self._emit(Event("connected", reconnect=self._connections > 1))
        error = None
        try:
            for sub in list(self._subs.values()):
                await self._send_subscribe(ws, sub)
            self._start_refresher()
            async for message in ws:
                await self._dispatch(ws, message)
        except ConnectionClosed:
            pass
        except Exception as e:
            error = e
            await ws.close(1011, "client error")
        finally:
            self._ws = None
            self._connected.clear()
            if self._refresher is not None:
                self._refresher.cancel()
                self._refresher = None
            for req_id, p in list(self._pending.items()):
                if isinstance(p, asyncio.Future):
                    del self._pending[req_id]
                    if not p.done():
                        p.set_exception(ConnectionLost("the connection ended"))
            for sub in self._subs.values():
                sub._disconnected()
        await ws.wait_closed()
        self._emit(Event("disconnected", code=ws.close_code, reason=ws.close_reason, error=error))
        return ws.close_code

    def _start_refresher(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        if self.auto_refresh and self._tokens.renewable and self._ws is not None \
                and jwt_expiry(self._token) is not None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        """Refresh the token before each expiry, while this connection lasts.
        It gives up (event "refresh_failed") when the token callable gives
        no newer token or the server refuses it: the server then closes
        with 3000 and the reconnection takes a fresh token."""
        while True:
            exp = jwt_expiry(self._token)
            if exp is None:
                return
            await asyncio.sleep(refresh_delay(exp, self._token_time, time.time(),
                                              self.refresh_margin, self.refresh_fraction))
            try:
                token = await self._tokens.get()
                new_exp = jwt_expiry(token)
                if new_exp is None or new_exp <= exp:
                    raise ValueError("the token callable gave no token expiring later")
                await self._refresh_with(token)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._emit(Event("refresh_failed", error=e))
                return

    async def _send_subscribe(self, ws, sub: Subscription) -> None:
        req_id = self._id()
        if sub._req_id is not None:
            self._pending.pop(sub._req_id, None)
        self._pending[req_id] = sub
        try:
            await ws.send(encode_request("subscribe", req_id, **sub._request(req_id)))
        except ConnectionClosed:
            pass

    async def _dispatch(self, ws, message: Union[str, bytes]) -> None:
        """Handle one message from the server."""
        try:
            if isinstance(message, bytes):
                answer, pub = None, parse_binary(message)
            else:
                answer, pub = parse_text(message)
        except ValueError as e:
            self._emit(Event("error", error=e))
            return
        if pub is not None:
            await self._publication(ws, pub)
        else:
            await self._answer(ws, answer)

    async def _publication(self, ws, pub: Publication) -> None:
        sub = self._subs.get(pub.topic)
        if sub is None:
            return
        last = sub.position
        action = sub._on_publication(pub)
        if action == HEAL:
            self._emit(Event("gap", topic=sub.topic, position=last, got=pub.position))
            await self._resubscribe(ws, sub)
        elif action == RESNAPSHOT:
            self._emit(Event("delta_failed", topic=sub.topic, key=pub.key))
            await self._resubscribe(ws, sub)

    async def _resubscribe(self, ws, sub: Subscription) -> None:
        """Heal: unsubscribe and subscribe again on the same connection;
        publications are dropped until the new answer."""
        try:
            await ws.send(encode_request("unsubscribe", topic=sub.topic))
        except ConnectionClosed:
            return
        await self._send_subscribe(ws, sub)

    async def _answer(self, ws, a: dict) -> None:
        op, req_id = a["op"], a.get("id")
        pending = self._pending.get(req_id) if isinstance(req_id, int) else None
        if op == "subscribed":
            sub = self._subs.get(a.get("topic"))
            if sub is None or pending is not sub or sub._req_id != req_id:
                return
            del self._pending[req_id]
            resubscribed = sub._ready.done()
            try:
                sub._on_subscribed(a)
            except ValueError as e:
                self._emit(Event("error", topic=sub.topic, error=e))
                return
            self._emit(Event("subscribed", topic=sub.topic, position=sub.position,
                             recovery=sub.recovery, resubscribed=resubscribed))
        elif op == "error":
            err = ServerError(str(a.get("code", "")), str(a.get("message", "")))
            if isinstance(pending, Subscription):
                self._drop(pending, err)
            elif isinstance(pending, asyncio.Future):
                if not pending.done():
                    pending.set_exception(err)
            else:
                self._emit(Event("error", error=err))
        elif op == "unsubscribed" and req_id is None:
            sub = self._subs.get(a.get("topic"))
            reason = a.get("reason")
            if sub is not None and reason:
                self._drop(sub, ServerError(str(reason), f"the server ended the subscription to {sub.topic}"))
                self._emit(Event("unsubscribed", topic=sub.topic, reason=reason))
        elif isinstance(pending, asyncio.Future):
            if not pending.done():
                pending.set_result(a)
