"""The client's events: what they are (Event) and where they go (the
on_event callback and every events() iterator).

Concurrency and ownership: an EventHub belongs to its client's event loop;
emit() runs the callback on the calling task (the client's background task)
and queues the event for each iterator without bound.
"""

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator, Callable, List, Optional

from .wire import Position

__all__ = ["Event", "EventHub"]


@dataclass(frozen=True)
class Event:
    """Something that happened to the connection or a subscription.

    type is one of:
        "connected"        a connection is up (reconnect: True after the first)
        "disconnected"     it ended: code and reason (the close frame's, or
                           1006 with no close frame); error, if it failed
        "connect_failed"   an attempt failed: error
        "subscribed"       a subscribe answer: topic, position, recovery,
                           resubscribed (True for automatic ones),
                           snapshot (the number of snapshot entries that
                           follow, None when no snapshot follows)
        "gap"              a publication skipped (or left the epoch): topic,
                           position (last taken), got (the arrived one);
                           the client resubscribes from position
        "delta_failed"     a delta could not be applied: topic, key; the
                           client resubscribes with a fresh snapshot
        "unsubscribed"     the server ended a subscription: topic, reason
        "refreshed"        the server took a new token: exp
        "refresh_failed"   automatic refresh gave up: error
        "error"            an error answer to no pending request, or a
                           malformed message: error; a refused
                           resubscription (the subscription ends): topic,
                           error
    """

    type: str
    topic: Optional[str] = None
    position: Optional[Position] = None
    got: Optional[Position] = None
    recovery: Optional[str] = None
    resubscribed: bool = False
    snapshot: Optional[int] = None
    reconnect: bool = False
    key: Optional[str] = None
    code: Optional[int] = None
    reason: Optional[str] = None
    exp: Optional[float] = None
    error: Optional[BaseException] = None


_EVENTS_END = object()


class EventHub:
    """Delivers a client's Events to on_event (if any) and to the
    iterators made by iterate(), until end()."""

    def __init__(self, on_event: Optional[Callable[[Event], None]]):
        self._on_event = on_event
        self._queues: List[asyncio.Queue] = []

    def emit(self, event: Event) -> None:
        """Run on_event with event (its exception propagates) and queue
        event for every iterator."""
        if self._on_event is not None:
            self._on_event(event)
        for q in self._queues:
            q.put_nowait(event)

    def iterate(self) -> AsyncIterator[Event]:
        """An async iterator of the Events emitted from now on, until end()."""
        q: asyncio.Queue = asyncio.Queue()
        self._queues.append(q)

        async def iterate():
            try:
                while True:
                    e = await q.get()
                    if e is _EVENTS_END:
                        return
                    yield e
            finally:
                self._queues.remove(q)
        return iterate()

    def end(self) -> None:
        """End every iterator once it has taken the events queued before."""
        for q in self._queues:
            q.put_nowait(_EVENTS_END)
