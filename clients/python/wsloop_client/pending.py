"""Requests awaiting their answers, by id.

A request is either a one-off (publish, unsubscribe, refresh: a Future
that the answer settles) or a subscription's latest subscribe request (the
Subscription itself, which stays subscribed across connections).

Concurrency and ownership: belongs to its client's event loop; not
thread-safe.
"""

import asyncio
from typing import Dict, Optional, Tuple, Union

from .errors import ConnectionLost
from .subscription import Subscription

__all__ = ["PendingRequests"]


class PendingRequests:
    """The requests of a client that await an answer, under the ids they
    were sent with (ids increase for the client's lifetime, across
    connections)."""

    def __init__(self):
        self._by_id: Dict[int, Union[asyncio.Future, Subscription]] = {}
        self._next_id = 0

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def expect(self) -> Tuple[int, asyncio.Future]:
        """A new id and the Future its answer will settle."""
        req_id = self._id()
        fut = asyncio.get_running_loop().create_future()
        self._by_id[req_id] = fut
        return req_id, fut

    def track(self, sub: Subscription) -> int:
        """A new id for sub's next subscribe request; the answer to its
        previous one, if still awaited, is forgotten."""
        req_id = self._id()
        if sub._req_id is not None:
            self._by_id.pop(sub._req_id, None)
        self._by_id[req_id] = sub
        return req_id

    def get(self, req_id: object) -> Union[asyncio.Future, Subscription, None]:
        """The request an answer's "id" member is for, or None."""
        return self._by_id.get(req_id) if isinstance(req_id, int) else None

    def discard(self, req_id: Optional[int]) -> None:
        """Stop awaiting the answer to req_id (None: nothing to do)."""
        if req_id is not None:
            self._by_id.pop(req_id, None)

    def connection_ended(self) -> None:
        """Fail every one-off request with ConnectionLost; subscriptions
        are sent again on the next connection."""
        for req_id, p in list(self._by_id.items()):
            if isinstance(p, asyncio.Future):
                del self._by_id[req_id]
                if not p.done():
                    p.set_exception(ConnectionLost("the connection ended"))
