"""The exceptions the client raises."""

__all__ = ["ServerError", "ConnectionLost", "ClientClosed"]


class ServerError(Exception):
    """The server's "error" answer to a request (or the reason it ended a
    subscription): code is one of the protocol's codes, e.g. "forbidden"."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(Exception):
    """A request could not be answered: the connection ended first, or
    none came up within the request timeout."""


class ClientClosed(Exception):
    """The client is closed (or was never connected)."""
