"""Token refresh: sending a new token on the connection, and doing it by
itself before each expiry while a connection lasts.

TokenRefresh is a part of Client (a base class), not used alone: it works
on the Client's auto_refresh, refresh_margin, refresh_fraction, _tokens,
_token, _token_time, _ws and _refresher, and calls its _request and _emit.
The refresh task runs on the client's event loop.
"""

import asyncio
import time
from typing import Optional

from .events import Event
from .token import jwt_expiry, refresh_delay

__all__ = ["TokenRefresh"]


class TokenRefresh:
    """The connection's token refreshes, for Client."""

    async def _refresh_with(self, token: Optional[str]) -> float:
        if not token:
            raise ValueError("refresh: no token")
        answer = await self._request("refresh", token=token)
        self._token, self._token_time = token, time.time()
        exp = answer.get("exp")
        self._emit(Event("refreshed", exp=exp))
        return exp

    def _start_refresher(self) -> None:
        """(Re)start the refresh task, when refreshing by itself is on,
        the token callable can give new tokens, a connection is up and its
        token has an expiry."""
        self._stop_refresher()
        if self.auto_refresh and self._tokens.renewable and self._ws is not None \
                and jwt_expiry(self._token) is not None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())

    def _stop_refresher(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None

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
