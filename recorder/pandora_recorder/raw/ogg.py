"""Ogg pages as Craig and Pandora write them, and a reader that stops at a torn page.

Hand-written rather than via libogg: the raw format deliberately departs from the Ogg spec (6-byte granule,
zlib CRC-32) and writes one packet per page, which no Ogg library produces. The cooker reuses the same encoder
with the real Ogg CRC.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

CAPTURE = b"OggS"
FLAG_CONTINUED = 0x01
FLAG_BOS = 0x02
FLAG_EOS = 0x04

# capture, version, flags, granule (u64), serial, sequence, crc, segment count
_HEADER = struct.Struct("<4sBBQIIIB")
HEADER_SIZE = _HEADER.size  # 27
_CRC_OFFSET = 22
_MAX_GRANULE_48 = (1 << 48) - 1


def craig_crc(page: bytes) -> int:
    """The checksum Craig and Pandora store: zlib's CRC-32 of the page with the CRC field zeroed."""
    return zlib.crc32(page)


# Byte bit-reversal table, so the Ogg CRC can run through zlib's C implementation (see ogg_crc).
_REVERSE_BITS = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def ogg_crc(page: bytes) -> int:
    """The real Ogg CRC (poly 0x04C11DB7, MSB first, init 0, no final xor).

    zlib computes the bit-reflected CRC-32 with init and final xor 0xFFFFFFFF. Reflecting every input byte and
    the result turns it into the MSB-first CRC, and xoring zlib's CRC of as many zero bytes cancels the init and
    the final xor (CRC is affine in its input). This keeps the cooker at C speed without a new dependency.
    """
    reflected = zlib.crc32(page.translate(_REVERSE_BITS)) ^ zlib.crc32(bytes(len(page)))
    return int(f"{reflected:032b}"[::-1], 2)


def lacing(size: int) -> bytes:
    """Standard Ogg lacing values for one packet that ends on this page."""
    return b"\xff" * (size // 255) + bytes((size % 255,))


def encode_page(
    *,
    serial: int,
    sequence: int,
    granule: int,
    packets: list[bytes] | tuple[bytes, ...],
    flags: int = 0,
    crc: Callable[[bytes], int] = craig_crc,
) -> bytes:
    """One Ogg page holding whole packets. With the default CRC it is a raw-format page, whose granule must
    fit 48 bits (bytes 12-13 stay zero, as Craig writes them)."""
    if crc is craig_crc:
        if len(packets) == 1:
            return raw_page(serial, sequence, granule, packets[0], flags)
        if not 0 <= granule <= _MAX_GRANULE_48:
            raise ValueError(f"granule {granule} does not fit 6 bytes")
    segments = b"".join(lacing(len(packet)) for packet in packets)
    if len(segments) > 255:
        raise ValueError("packets need more than 255 lacing values")
    page = bytearray(_HEADER.pack(CAPTURE, 0, flags, granule, serial, sequence, 0, len(segments)) + segments)
    for packet in packets:
        page += packet
    struct.pack_into("<I", page, _CRC_OFFSET, crc(bytes(page)))
    return bytes(page)


def raw_page(serial: int, sequence: int, granule: int, packet: bytes, flags: int = 0) -> bytes:
    """The writer's hot path: one packet, zlib CRC chained over header and body without joining them first."""
    if not 0 <= granule <= _MAX_GRANULE_48:
        raise ValueError(f"granule {granule} does not fit 6 bytes")
    size = len(packet)
    table = b"\xff" * (size // 255) + bytes((size % 255,))
    if len(table) > 255:
        raise ValueError("packet needs more than 255 lacing values")
    head = _HEADER.pack(CAPTURE, 0, flags, granule, serial, sequence, 0, len(table)) + table
    checksum = zlib.crc32(packet, zlib.crc32(head))
    return b"".join((head[:_CRC_OFFSET], checksum.to_bytes(4, "little"), head[_CRC_OFFSET + 4 :], packet))


@dataclass(frozen=True, slots=True)
class Page:
    flags: int
    granule: int
    serial: int
    sequence: int
    crc: int
    packets: tuple[bytes, ...]  # completed packets; one in the raw format
    offset: int  # where the page starts in the buffer it was read from
    size: int


def page_at(buffer: bytes, offset: int, base: int = 0) -> Page | None:
    """The page starting at `offset`, or None when `buffer` ends inside it (`base` is added to its offset: where
    `buffer` starts in a file). Raises ValueError when the bytes there are not a page."""
    if len(buffer) - offset < HEADER_SIZE:
        return None
    capture, version, flags, granule, serial, sequence, crc, count = _HEADER.unpack_from(buffer, offset)
    if capture != CAPTURE or version != 0:
        raise ValueError(f"no Ogg page at offset {offset}")
    body = offset + HEADER_SIZE + count
    if body > len(buffer):
        return None
    packets: list[bytes] = []
    position = packet_start = body
    for value in buffer[offset + HEADER_SIZE : body]:
        position += value
        if value < 255:
            packets.append(bytes(buffer[packet_start:position]))
            packet_start = position
    if position > len(buffer):
        return None
    return Page(flags, granule, serial, sequence, crc, tuple(packets), base + offset, position - offset)


_ZERO_CRC = bytes(4)


def checksum_matches(buffer: bytes, offset: int, page: Page) -> bool:
    """Whether the stored CRC of `page` (at `offset` in `buffer`) is right: the zlib CRC-32 Craig and Pandora
    write, or the real Ogg CRC."""
    end = offset + page.size
    head, tail = buffer[offset : offset + _CRC_OFFSET], buffer[offset + _CRC_OFFSET + 4 : end]
    if zlib.crc32(tail, zlib.crc32(_ZERO_CRC, zlib.crc32(head))) == page.crc:
        return True
    return ogg_crc(head + _ZERO_CRC + tail) == page.crc


def read_pages(buffer: bytes, start: int = 0) -> Iterator[Page]:
    """Pages in `buffer` from `start`; stops silently before an incomplete (torn) page at the end. Checksums are
    not checked (see `raw/scan.py` for damaged files).

    Raises ValueError for bytes that are not a page: the caller decides whether that is corruption."""
    offset = start
    while offset < len(buffer):
        page = page_at(buffer, offset)
        if page is None:
            return
        yield page
        offset += page.size


def complete_length(buffer: bytes) -> int:
    """Length of the longest prefix of `buffer` made of whole pages (what survives a torn last write)."""
    length = 0
    try:
        for page in read_pages(buffer):
            length = page.offset + page.size
    except ValueError:
        pass
    return length
