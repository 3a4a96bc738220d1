"""wsloop_client: an asyncio client of wsloop's topics protocol.

Subscribe to topics of a wsloop server (-mode pubsub or feed) with
recovery from the last position after a reconnection, gap healing, keyed
state from snapshots and Fossil deltas, publishes and JWT tokens refreshed
before they expire::

    async with Client("ws://127.0.0.1:8080/") as client:
        sub = await client.subscribe("md.AAPL", snapshot=True)
        async for pub in sub:
            print(pub.kind, pub.key, pub.data, sub.state)

Modules: client (Client: its API and requests), connection (its
background task: connecting and reconnecting), dispatch (the server's
messages to subscriptions and requests), refresh (token refreshes), pending
(requests awaiting answers), events (Event), errors (ServerError,
ConnectionLost, ClientClosed), subscription (Subscription: position, gaps,
state), backoff (reconnection delays), wire (the protocol's encoding), token
(JWT expiry and refresh timing), fossil (apply_delta). Everything is asyncio
and belongs to the event loop that connected. The only dependency, the
websockets library, is needed by the client module and the connection and
dispatch modules it is made of: the client's names are imported on first
use, so the other modules work without it.
"""

from .backoff import Backoff
from .fossil import apply_delta
from .subscription import Subscription
from .token import jwt_expiry
from .wire import (KIND_DELETE, KIND_EVENT, KIND_SNAPSHOT, KIND_UPDATE, SUBPROTOCOL_BINARY,
                   SUBPROTOCOL_JSON, Position, Publication)

__all__ = [
    "Client", "Backoff", "Event", "ServerError", "ConnectionLost", "ClientClosed",
    "Subscription", "Position", "Publication", "apply_delta", "jwt_expiry",
    "SUBPROTOCOL_BINARY", "SUBPROTOCOL_JSON",
    "KIND_UPDATE", "KIND_SNAPSHOT", "KIND_DELETE", "KIND_EVENT",
]

_CLIENT_NAMES = frozenset(("Client", "Event", "ServerError", "ConnectionLost", "ClientClosed"))


def __getattr__(name):
    if name in _CLIENT_NAMES:
        from . import client
        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
