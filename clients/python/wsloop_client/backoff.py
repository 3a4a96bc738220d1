"""Reconnection delays: exponential backoff with jitter."""

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Reconnection delays: initial seconds, doubled at each failed
    attempt up to max, each shortened by a random part of up to jitter
    (0 to 1) of itself so that many clients do not reconnect in step."""

    initial: float = 0.1
    max: float = 10.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnection attempt number attempt (0 first)."""
        d = min(self.max, self.initial * (2 ** min(attempt, 62)))
        return d * (1 - self.jitter * random.random())
