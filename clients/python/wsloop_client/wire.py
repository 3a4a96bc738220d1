"""The wsloop topics protocol on the wire: requests out, answers and
publications in (pubsub/doc.go in the repository is the specification).

Requests and answers are JSON text in both subprotocols. Publications are
JSON text ({"op":"msg",...}) in "wsloop.json" and binary messages in
"wsloop.bin": byte 0 the kind, byte 1 the topic's length T, T bytes of
topic, the epoch and the sequence (8 bytes each, big endian), the key's
length K (1 byte), K bytes of key, then the data to the end.

Everything here is pure (no I/O, no shared state) and safe from any thread.
"""

import json
import struct
from dataclasses import dataclass
from typing import Any, Optional, Tuple

__all__ = [
    "SUBPROTOCOL_JSON", "SUBPROTOCOL_BINARY", "CLOSE_TOKEN_EXPIRED",
    "KIND_UPDATE", "KIND_DELTA", "KIND_SNAPSHOT", "KIND_DELETE", "KIND_EVENT",
    "Position", "Publication", "parse_binary", "parse_text", "encode_request",
]

SUBPROTOCOL_JSON = "wsloop.json"
SUBPROTOCOL_BINARY = "wsloop.bin"

#: Close code of a connection whose token expired without a refresh.
CLOSE_TOKEN_EXPIRED = 3000

#: Publication kinds, as Publication.kind (the JSON "kind" member; "update"
#: is a plain publication, without "kind" on the wire).
KIND_UPDATE = "update"
KIND_DELTA = "delta"
KIND_SNAPSHOT = "snapshot"
KIND_DELETE = "delete"
KIND_EVENT = "event"

_BINARY_KINDS = {
    0x01: KIND_UPDATE,
    0x02: KIND_DELTA,
    0x03: KIND_SNAPSHOT,
    0x04: KIND_DELETE,
    0x05: KIND_EVENT,
}
_JSON_KINDS = {None: KIND_UPDATE, KIND_SNAPSHOT: KIND_SNAPSHOT,
               KIND_DELETE: KIND_DELETE, KIND_EVENT: KIND_EVENT}
_POSITION = struct.Struct(">QQ")
_FLAGS = frozenset(("snapshot", "conflate"))
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Position:
    """A place in a topic's stream: epoch names one run of the topic's
    history (16 lowercase hex digits, kept a string), seq counts its
    messages from 1 (0 is before the first)."""

    epoch: str
    seq: int

    def to_json(self) -> dict:
        """The "since" member of a subscribe request."""
        return {"epoch": self.epoch, "seq": self.seq}


@dataclass(frozen=True)
class Publication:
    """One message of a topic.

    kind is KIND_UPDATE, KIND_SNAPSHOT, KIND_DELETE, KIND_EVENT or, as
    parsed from the wire only, KIND_DELTA (the client turns a delta into
    an update with the full payload before delivering it). key is "" for
    a keyless message.

    data is bytes. In "wsloop.bin" it is the publisher's payload as is. In
    "wsloop.json" the server embeds a JSON payload as is and any other one
    as a JSON string; data is then the UTF-8 of a string value, or the
    value re-encoded as compact JSON (so a payload that was a JSON string
    comes back as its text, and JSON whitespace is not kept).
    """

    topic: str
    position: Position
    key: str
    data: bytes
    kind: str = KIND_UPDATE

    def json(self) -> Any:
        """data parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.data)


def valid_epoch(epoch: Any) -> bool:
    """Whether epoch is 16 hex digits, as the protocol writes it."""
    return isinstance(epoch, str) and len(epoch) == 16 and set(epoch) <= _HEX


def parse_binary(message: bytes) -> Publication:
    """Take a "wsloop.bin" publication apart; ValueError when it is not
    one (an unknown kind, or shorter than its lengths)."""
    b = memoryview(message)
    if len(b) < 2 or b[0] not in _BINARY_KINDS:
        raise ValueError("not a wsloop binary publication")
    tl = b[1]
    if len(b) < 2 + tl + 17:
        raise ValueError("binary publication too short")
    topic = bytes(b[2:2 + tl]).decode("utf-8", "replace")
    p = 2 + tl
    epoch, seq = _POSITION.unpack_from(b, p)
    kl = b[p + 16]
    if len(b) < p + 17 + kl:
        raise ValueError("binary publication too short for its key")
    key = bytes(b[p + 17:p + 17 + kl]).decode("utf-8", "replace")
    data = bytes(b[p + 17 + kl:])
    return Publication(topic, Position(f"{epoch:016x}", seq), key, data, _BINARY_KINDS[b[0]])


def parse_text(message: str) -> Tuple[Optional[dict], Optional[Publication]]:
    """Parse a JSON message from the server: (answer, None) for an answer
    (a dict with at least a string "op"), (None, publication) for an
    {"op":"msg"}; ValueError when it is neither."""
    try:
        a = json.loads(message)
    except ValueError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(a, dict) or not isinstance(a.get("op"), str):
        raise ValueError("not a wsloop answer: no op")
    if a["op"] != "msg":
        return a, None
    kind = _JSON_KINDS.get(a.get("kind"))
    if kind is None or not valid_epoch(a.get("epoch")) or not isinstance(a.get("seq"), int):
        raise ValueError("bad msg: kind, epoch or seq")
    value = a.get("data")
    if value is None and "data" not in a:
        data = b""
    elif isinstance(value, str):
        data = value.encode("utf-8")
    else:
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    pos = Position(a["epoch"].lower(), a["seq"])
    return None, Publication(str(a.get("topic", "")), pos, str(a.get("key", "")), data, kind)


def answer_position(answer: dict) -> Position:
    """The position of a "subscribed" or "published" answer; ValueError
    when it has none."""
    epoch, seq = answer.get("epoch"), answer.get("seq")
    if not valid_epoch(epoch) or not isinstance(seq, int):
        raise ValueError(f"answer without a position: {answer!r}")
    return Position(epoch.lower(), seq)


def encode_request(op: str, req_id: Optional[int] = None, **members: Any) -> str:
    """A request as JSON text: {"op":op,"id":req_id,...members}, members
    that are None left out, and the flags "snapshot" and "conflate" when
    false; a Position becomes its JSON form."""
    r: dict = {"op": op}
    if req_id is not None:
        r["id"] = req_id
    for name, value in members.items():
        if value is None or (value is False and name in _FLAGS):
            continue
        r[name] = value.to_json() if isinstance(value, Position) else value
    return json.dumps(r, separators=(",", ":"), ensure_ascii=False)
