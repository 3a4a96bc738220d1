"""Connection tokens: where the client gets them, when they expire and
when to refresh them.

A token is a JWT the server verifies; the client never verifies it, it only
reads the payload's "exp" (seconds since the Unix epoch) to refresh in time.
"""

import base64
import inspect
import json
from typing import Awaitable, Callable, Optional, Union

__all__ = ["TokenSource", "TokenProvider", "jwt_expiry", "refresh_delay"]

#: A token: None (no token), a string, or a callable returning one
#: (synchronously or as an awaitable), called at each connection and
#: refresh.
TokenProvider = Union[None, str, Callable[[], Union[Optional[str], Awaitable[Optional[str]]]]]


def jwt_expiry(token: Optional[str]) -> Optional[float]:
    """The "exp" claim of a JWT, without verifying it; None when token is
    not a JWT or has no numeric exp."""
    if not token:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp)


def refresh_delay(exp: float, issued: float, now: float, margin: float, fraction: float) -> float:
    """Seconds from now until a token that expires at exp and was obtained
    at issued should be refreshed: margin seconds before exp, or fraction
    of its lifetime before exp when that is shorter (a token that lives 60
    s is refreshed 6 s early with fraction 0.1, not 30 s). Never negative.
    """
    lead = min(margin, fraction * max(exp - issued, 0.0))
    return max(exp - lead - now, 0.0)


class TokenSource:
    """Turns a TokenProvider into tokens. A static string stays current
    until replace() sets another (Client.refresh with an explicit token).
    Not thread-safe: use it from the client's event loop."""

    def __init__(self, provider: TokenProvider):
        if provider is not None and not isinstance(provider, str) and not callable(provider):
            raise TypeError("token must be None, a str or a callable returning one")
        self._provider = provider

    @property
    def renewable(self) -> bool:
        """Whether get() may return a new token (the provider is callable)."""
        return callable(self._provider)

    def replace(self, token: str) -> None:
        """Use token from now on when the provider is a static string."""
        if not callable(self._provider):
            self._provider = token

    async def get(self) -> Optional[str]:
        """The current token: the string, or the callable's result."""
        p = self._provider
        if not callable(p):
            return p
        token = p()
        if inspect.isawaitable(token):
            token = await token
        if token is not None and not isinstance(token, str):
            raise TypeError(f"the token callable returned {type(token).__name__}, not str")
        return token
