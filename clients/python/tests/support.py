"""Waiting helpers for the client's tests: every wait is on an event,
bounded by a timeout (no sleeps as synchronisation)."""

import asyncio
import unittest
from typing import Callable, List

TIMEOUT = 10.0


def require_websockets() -> None:
    """Skip the calling test module when websockets is not installed (the
    Go wrapper clients/python/pytest fails then in CI)."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise unittest.SkipTest("websockets not installed (apt-get install python3-websockets)") from None


class Recorder:
    """Records a client's events (pass recorder.on_event as on_event) and
    waits for one matching a predicate."""

    def __init__(self):
        self.events: List = []
        self._changed = asyncio.Event()

    def on_event(self, event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, type_: str) -> list:
        return [e for e in self.events if e.type == type_]

    async def wait(self, pred: Callable[..., bool], timeout: float = TIMEOUT, start: int = 0):
        """The first event from index start on that matches pred."""
        async def scan():
            i = start
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    def mark(self) -> int:
        """The index of the next event, for wait(start=...)."""
        return len(self.events)


async def take(sub, n: int, timeout: float = TIMEOUT) -> list:
    """The next n publications of sub."""
    async def collect():
        out = []
        async for pub in sub:
            out.append(pub)
            if len(out) == n:
                break
        return out
    return await asyncio.wait_for(collect(), timeout)
