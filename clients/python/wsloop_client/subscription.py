"""A subscription's state: its position, gap detection, keyed state from
snapshots, deletes and Fossil deltas, and the delivery of publications.

A Subscription is created by Client.subscribe and fed by the client's
reader task; it does no I/O itself: when a publication shows a gap or a
delta cannot be applied, it tells the client (the return value of
_on_publication), which resubscribes.

Concurrency and ownership: a Subscription belongs to the event loop of its
client. Its attributes are changed only by the client's reader task, between
two awaits, so a coroutine on the same loop always sees a consistent
.position and .state (a complete snapshot: a snapshot is collected aside and
swapped in when its last entry arrives). Do not mutate .state; copy it.
Nothing here is thread-safe.
"""

import asyncio
from dataclasses import replace
from typing import Callable, Dict, Optional

from .fossil import apply_delta
from .wire import KIND_DELETE, KIND_DELTA, KIND_SNAPSHOT, KIND_UPDATE, Position, Publication, answer_position

__all__ = ["Subscription", "HEAL", "RESNAPSHOT"]

#: _on_publication's answer: a gap; resubscribe with "since" = .position.
HEAL = "heal"
#: _on_publication's answer: a delta failed; resubscribe with a fresh snapshot.
RESNAPSHOT = "resnapshot"

_END = object()


class Subscription:
    """A topic's subscription: an async iterator of its publications, with
    the keyed state of the topic and the position reached.

    Iterating yields wire.Publication objects in sequence order: snapshot
    entries (kind "snapshot") after each subscribe with a snapshot, then
    updates, deletes and events. A Fossil delta is delivered as the update
    it stands for (kind "update", full payload). The iteration ends after
    Client.unsubscribe or Client.close, and raises ServerError when the
    server refused a resubscription or ended the subscription ("reason",
    e.g. "forbidden" after a refresh with narrower claims).

    Publications are queued without bound until iterated; a consumer that
    only reads .state should pass on_publication to Client.subscribe (then
    nothing is queued and the subscription is not iterable).

    Attributes:
        topic: the topic.
        state: key -> bytes, the latest payload of each live key (updates
            and snapshot entries; deletes remove keys; events and keyless
            messages are not kept). Replaced whole by each snapshot.
        position: wire.Position of the last message taken into account
            (None before the first answer); the client resubscribes from
            it after a reconnection or a gap.
        recovery: the last "subscribed" answer's "recovery" member ("ok",
            "failed", "snapshot") or None.
    """

    def __init__(self, topic: str, *, since: Optional[Position], snapshot: bool, delta: bool,
                 conflate: bool, on_publication: Optional[Callable[["Subscription", Publication], None]]):
        self.topic = topic
        self.snapshot = snapshot
        self.delta = delta
        self.conflate = conflate
        self.state: Dict[str, bytes] = {}
        self.position: Optional[Position] = since
        self.recovery: Optional[str] = None
        self._callback = on_publication
        self._queue: Optional[asyncio.Queue] = None if on_publication else asyncio.Queue()
        self._ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._req_id: Optional[int] = None
        self._active = False
        self._fresh = False
        self._pending = 0
        self._building: Optional[Dict[str, bytes]] = None
        self._ended = False
        self._error: Optional[BaseException] = None

    def __repr__(self) -> str:
        return f"<Subscription {self.topic} at {self.position} keys={len(self.state)}>"

    def __aiter__(self) -> "Subscription":
        if self._queue is None:
            raise TypeError("subscribed with on_publication: not iterable")
        return self

    async def __anext__(self) -> Publication:
        if self._queue is None:
            raise TypeError("subscribed with on_publication: not iterable")
        if self._ended and self._queue.empty():
            return self._stop()
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)
            return self._stop()
        return item

    def _stop(self):
        if self._error is not None:
            raise self._error
        raise StopAsyncIteration

    @property
    def active(self) -> bool:
        """Whether the server's answer to the last (re)subscribe arrived
        and its snapshot, if any, is complete."""
        return self._active and self._pending == 0

    def _request(self, req_id: int) -> dict:
        """Members of the next subscribe request (id req_id): since the
        position reached, unless a fresh snapshot is due."""
        self._req_id, self._active, self._pending, self._building = req_id, False, 0, None
        members = {"topic": self.topic, "conflate": self.conflate, "snapshot": self.snapshot}
        if self.position is not None and not self._fresh:
            members["since"] = self.position
        if self.delta:
            members["delta"] = "fossil"
        return members

    def _on_subscribed(self, answer: dict) -> None:
        """Apply the answer to the last subscribe request."""
        self.position = answer_position(answer)
        self.recovery = answer.get("recovery")
        self._active, self._fresh = True, False
        n = answer.get("snapshot")
        if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
            self._pending, self._building = n, {}
            if n == 0:
                self._swap()
        if not self._ready.done():
            self._ready.set_result(self)

    def _swap(self) -> None:
        self.state, self._building, self._pending = self._building, None, 0

    def _on_publication(self, pub: Publication) -> Optional[str]:
        """Take one publication: returns None, HEAL or RESNAPSHOT."""
        if not self._active:
            return None
        if pub.kind == KIND_SNAPSHOT:
            if self._pending > 0:
                if pub.key:
                    self._building[pub.key] = pub.data
                self._pending -= 1
                if self._pending == 0:
                    self._swap()
                self._deliver(pub)
            return None
        if self._pending > 0:
            self._fresh = True
            return RESNAPSHOT
        last = self.position
        if last is not None:
            if pub.position.epoch != last.epoch:
                return HEAL
            if pub.position.seq <= last.seq:
                return None
            if pub.position.seq != last.seq + 1 and not self.conflate:
                return HEAL
        if pub.kind == KIND_DELTA:
            base = self.state.get(pub.key) if pub.key else None
            if base is None:
                self._fresh = True
                return RESNAPSHOT
            try:
                pub = replace(pub, data=apply_delta(base, pub.data), kind=KIND_UPDATE)
            except ValueError:
                self._fresh = True
                return RESNAPSHOT
        if pub.key:
            if pub.kind == KIND_UPDATE:
                self.state[pub.key] = pub.data
            elif pub.kind == KIND_DELETE:
                self.state.pop(pub.key, None)
        self.position = pub.position
        self._deliver(pub)
        return None

    def _deliver(self, pub: Publication) -> None:
        if self._callback is not None:
            self._callback(self, pub)
        else:
            self._queue.put_nowait(pub)

    def _disconnected(self) -> None:
        """The connection ended; publications wait for the next answer."""
        self._active, self._pending, self._building = False, 0, None

    def _end(self, error: Optional[BaseException] = None) -> None:
        """End the subscription: the iteration stops, raising error if any."""
        if self._ended:
            return
        self._ended, self._error, self._active = True, error, False
        if not self._ready.done():
            if error is not None:
                self._ready.set_exception(error)
            else:
                self._ready.cancel()
        if self._queue is not None:
            self._queue.put_nowait(_END)

