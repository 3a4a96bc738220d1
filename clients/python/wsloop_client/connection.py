"""The client's background task: open a connection with a fresh token,
carry it until it ends, and reconnect with backoff, until close().

ConnectionLoop is a part of Client (a base class), not used alone: it works
on the Client's state (url, subprotocol, backoff, open_timeout, max_size,
_tokens, _ws, _token, _token_time, _connected, _closing, _connections,
_subs, _pending) and calls its _emit, _send_subscribe, _dispatch,
_start_refresher and _stop_refresher. It runs on the client's event loop.
"""

import asyncio
import time
import urllib.parse
from typing import Optional

import websockets
from websockets.exceptions import ConnectionClosed

from .events import Event
from .wire import CLOSE_TOKEN_EXPIRED

__all__ = ["ConnectionLoop"]


class ConnectionLoop:
    """The connection's lifecycle, for Client."""

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
            self._stop_refresher()
            self._pending.connection_ended()
            for sub in self._subs.values():
                sub._disconnected()
        await ws.wait_closed()
        self._emit(Event("disconnected", code=ws.close_code, reason=ws.close_reason, error=error))
        return ws.close_code
