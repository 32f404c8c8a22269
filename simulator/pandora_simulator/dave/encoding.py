"""The TLS presentation language as MLS uses it (RFC 9420 §2.1): fixed-width big-endian integers and
vectors with a variable-size length header (``opaque<V>``).

Hand-written on purpose: no maintained Python MLS library exists, and the simulator only needs the few
structures the DAVE voice gateway reads or writes. Everything here is exact to the RFC, nothing more.
"""

from __future__ import annotations

import struct


class DecodeError(ValueError):
    """Raised when bytes do not follow the MLS encoding."""


def encode_varint(n: int) -> bytes:
    """RFC 9420 §2.1.2: the two top bits of the first byte give the header length (1, 2 or 4 bytes)."""
    if n < 0:
        raise ValueError("vector length cannot be negative")
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return struct.pack(">H", 0x4000 | n)
    if n < 1 << 30:
        return struct.pack(">I", 0x8000_0000 | n)
    raise ValueError(f"vector of {n} bytes is too long for MLS")


def opaque(data: bytes) -> bytes:
    """``opaque data<V>``: a varint length then the bytes."""
    return encode_varint(len(data)) + data


def u8(n: int) -> bytes:
    return struct.pack(">B", n)


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def u64(n: int) -> bytes:
    return struct.pack(">Q", n)


class Reader:
    """Reads MLS-encoded fields from a buffer, front to back; every read checks the bounds."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = bytes(data)
        self.offset = offset

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def take(self, n: int) -> bytes:
        if n < 0 or self.offset + n > len(self.data):
            raise DecodeError(f"need {n} bytes at offset {self.offset}, have {self.remaining}")
        out = self.data[self.offset : self.offset + n]
        self.offset += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def varint(self) -> int:
        first = self.u8()
        prefix = first >> 6
        if prefix == 0:
            return first
        if prefix == 1:
            return ((first & 0x3F) << 8) | self.u8()
        if prefix == 2:
            return ((first & 0x3F) << 24) | int.from_bytes(self.take(3), "big")
        raise DecodeError("invalid varint prefix 0b11")

    def opaque(self) -> bytes:
        return self.take(self.varint())

    def vector(self) -> Reader:
        """A ``T items<V>`` vector: returns a reader over just the vector's body."""
        return Reader(self.opaque())

    def rest(self) -> bytes:
        return self.take(self.remaining)
