"""Handling the server's messages: publications go to their
subscriptions (a gap or a failed delta makes the client resubscribe on the
same connection), answers to the requests that await them.

Dispatch is a part of Client (a base class), not used alone: it works on
the Client's _subs and _pending and calls its _emit, _drop and
_send_subscribe. It runs on the client's background task, which reads the
connection.
"""

import asyncio
from typing import Union

from websockets.exceptions import ConnectionClosed

from .errors import ServerError
from .events import Event
from .subscription import HEAL, RESNAPSHOT, Subscription
from .wire import Publication, encode_request, parse_binary, parse_text

__all__ = ["Dispatch"]


class Dispatch:
    """The reading side of the connection, for Client."""

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
        pending = self._pending.get(req_id)
        if op == "subscribed":
            sub = self._subs.get(a.get("topic"))
            if sub is None or pending is not sub or sub._req_id != req_id:
                return
            self._pending.discard(req_id)
            resubscribed = sub._ready.done()
            try:
                sub._on_subscribed(a)
            except ValueError as e:
                self._emit(Event("error", topic=sub.topic, error=e))
                return
            snapshot = a.get("snapshot")
            self._emit(Event("subscribed", topic=sub.topic, position=sub.position,
                             recovery=sub.recovery, resubscribed=resubscribed,
                             snapshot=snapshot if isinstance(snapshot, int) else None))
        elif op == "error":
            err = ServerError(str(a.get("code", "")), str(a.get("message", "")))
            if isinstance(pending, Subscription):
                resubscribed = pending._ready.done()
                self._drop(pending, err)
                if resubscribed:  # no subscribe() call awaits it: tell on_event and events()
                    self._emit(Event("error", topic=pending.topic, error=err))
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
