"""Fossil delta decoding for wsloop's market-data feed.

apply_delta rebuilds a publication from the previous one of its key and a
delta in the Fossil SCM delta format
(https://fossil-scm.org/home/doc/trunk/www/delta_format.wiki), as the
server's internal/fossil package writes it. It checks the whole delta and
raises ValueError whose message is exactly the Go package's error text for
the same fault (internal/fossil/testdata/corrupt.json holds both to it).
Standard library only.
"""

import struct

__all__ = ["apply_delta", "checksum", "output_size"]

DIGITS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
_NO_DIGIT = 255
_MAX_NUMBER = 0xFFFFFFFF

_DIGIT_VALUE = [_NO_DIGIT] * 256
for _value, _digit in enumerate(DIGITS):
    _DIGIT_VALUE[_digit] = _value

_COPY, _LITERAL, _END = ord("@"), ord(":"), ord(";")
_COMMA, _NEWLINE = ord(","), ord("\n")


def _corrupt(pos, message):
    """Return the error for a fault at byte pos of the delta."""
    return ValueError(f"fossil: corrupt delta at byte {pos}: {message}")


def _read_number(delta, pos):
    """Read the base-64 number at delta[pos], which must have at least one
    digit and fit in 32 bits; return it and the position after it."""
    start = pos
    value = 0
    while pos < len(delta):
        d = _DIGIT_VALUE[delta[pos]]
        if d == _NO_DIGIT:
            break
        value = value * 64 + d
        if value > _MAX_NUMBER:
            raise _corrupt(start, "number larger than 2^32-1")
        pos += 1
    if pos == start:
        if pos == len(delta):
            raise _corrupt(pos, "unterminated delta: expected a number")
        raise _corrupt(pos, f"expected a number, found 0x{delta[pos]:02x}")
    return value, pos


def _read_header(delta):
    """Return the declared target length and the position after the header."""
    n, pos = _read_number(delta, 0)
    if pos == len(delta) or delta[pos] != _NEWLINE:
        raise _corrupt(pos, "target length not terminated by a newline")
    return n, pos + 1


def checksum(data: bytes) -> int:
    """Return the format's checksum of data: the sum modulo 2^32 of data
    read as big-endian 32-bit words, the last one padded with zero bytes."""
    data = bytes(data)
    pad = -len(data) % 4
    words = struct.iter_unpack(">I", data + b"\0" * pad)
    return sum(w for (w,) in words) & _MAX_NUMBER


def output_size(delta: bytes) -> int:
    """Return the target length a delta's header declares, checking the
    header's syntax only. Raises ValueError if the header is malformed."""
    return _read_header(memoryview(delta).cast("B"))[0]


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """Apply a Fossil delta to base and return the target as new bytes.

    Checks the header, every segment (a copy must lie inside base, a literal
    inside the delta, neither may pass the declared length), the target's
    length and checksum, and that nothing follows the trailer. base and
    delta may be any bytes-like objects; they are only read. Raises
    TypeError for arguments that are not bytes-like, and ValueError
    ("fossil: corrupt delta at byte N: ...") for a bad delta.
    """
    base = memoryview(base).cast("B")
    delta = memoryview(delta).cast("B")
    limit, pos = _read_header(delta)
    out = bytearray()
    while pos < len(delta):
        start = pos
        n, pos = _read_number(delta, pos)
        if pos == len(delta):
            raise _corrupt(pos, "unterminated delta: number not followed by '@', ':' or ';'")
        op = delta[pos]
        if op == _COPY:
            off, pos = _read_number(delta, pos + 1)
            if pos == len(delta) or delta[pos] != _COMMA:
                raise _corrupt(pos, "copy command not terminated by ','")
            pos += 1
            if n > limit - len(out):
                raise _corrupt(start, f"copy of {n} bytes exceeds the declared target length {limit}")
            if n > len(base) or off > len(base) - n:
                raise _corrupt(
                    start,
                    f"copy of {n} bytes from source offset {off} extends past the end of the source ({len(base)} bytes)",
                )
            out += base[off : off + n]
        elif op == _LITERAL:
            pos += 1
            if n > limit - len(out):
                raise _corrupt(start, f"literal of {n} bytes exceeds the declared target length {limit}")
            if n > len(delta) - pos:
                raise _corrupt(start, f"literal of {n} bytes extends past the end of the delta")
            out += delta[pos : pos + n]
            pos += n
        elif op == _END:
            pos += 1
            if len(out) != limit:
                raise _corrupt(start, f"target is {len(out)} bytes but the header declares {limit}")
            total = checksum(out)
            if n != total:
                raise _corrupt(start, f"checksum mismatch: the delta says {n}, the target sums to {total}")
            if pos != len(delta):
                raise _corrupt(pos, f"{len(delta) - pos} bytes of trailing data after the checksum")
            return bytes(out)
        else:
            raise _corrupt(pos, f"unknown operator 0x{op:02x}")
    raise _corrupt(pos, "unterminated delta: no checksum trailer")
