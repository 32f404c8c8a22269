"""RTP header parsing for Discord's rtpsize transport modes, and extension/padding removal.

Hand-written because the layout is tiny and per-packet cost matters; no maintained Python RTP library parses
Discord's rtpsize AAD split (header + CSRCs + the 4-byte extension preamble are authenticated but not encrypted,
the extension body is encrypted along with the payload).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pandora_recorder.receive.drops import Drop, DropReason

RTP_HEADER_SIZE = 12
OPUS_PAYLOAD_TYPE = 0x78
IP_DISCOVERY_SIZE = 74
NONCE_SUFFIX_SIZE = 4  # rtpsize modes append a 32-bit nonce counter to every datagram
AEAD_TAG_SIZE = 16


@dataclass(slots=True)
class RtpPacket:
    """The parts of one encrypted RTP datagram that later steps need."""

    ssrc: int
    sequence: int
    timestamp: int
    aad_size: int  # unencrypted bytes: header + CSRCs + extension preamble when present
    extension_size: int  # bytes of extension body at the start of the decrypted payload
    padded: bool  # P bit: the decrypted payload ends with padding whose count is its last byte


_FIXED_HEADER = struct.Struct(">BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
_EXTENSION_WORDS = struct.Struct(">H")


def parse_rtp(datagram: bytes) -> RtpPacket:
    """Classify a datagram and parse its RTP header; raises ``Drop`` for anything that is not Opus RTP."""
    size = len(datagram)
    if size < RTP_HEADER_SIZE:
        raise Drop(DropReason.SHORT)
    first, second, sequence, timestamp, ssrc = _FIXED_HEADER.unpack_from(datagram)
    if size == IP_DISCOVERY_SIZE and first == 0 and second == 2:
        raise Drop(DropReason.IP_DISCOVERY)
    if first >> 6 != 2:
        raise Drop(DropReason.NOT_RTP)
    if 200 <= second <= 204:
        raise Drop(DropReason.RTCP)
    if second & 0x7F != OPUS_PAYLOAD_TYPE:
        raise Drop(DropReason.PAYLOAD_TYPE)
    aad_size = RTP_HEADER_SIZE + 4 * (first & 0x0F)
    extension_size = 0
    if first & 0x10:
        if size < aad_size + 4:
            raise Drop(DropReason.SHORT)
        extension_size = 4 * _EXTENSION_WORDS.unpack_from(datagram, aad_size + 2)[0]
        aad_size += 4
    if size < aad_size + AEAD_TAG_SIZE + NONCE_SUFFIX_SIZE:
        raise Drop(DropReason.SHORT)
    return RtpPacket(ssrc, sequence, timestamp, aad_size, extension_size, bool(first & 0x20))


def strip_payload(packet: RtpPacket, decrypted: bytes) -> bytes:
    """Remove the extension body and RTP padding from a transport-decrypted payload (before DAVE sees it)."""
    end = len(decrypted)
    if packet.padded:
        if end == 0:
            raise Drop(DropReason.BAD_PADDING)
        padding = decrypted[-1]
        if padding == 0 or padding > end - packet.extension_size:
            raise Drop(DropReason.BAD_PADDING)
        end -= padding
    if packet.extension_size > end:
        raise Drop(DropReason.BAD_EXTENSION)
    if packet.extension_size == 0 and end == len(decrypted):
        return decrypted
    return decrypted[packet.extension_size : end]
