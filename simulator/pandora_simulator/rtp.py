"""RTP packets and Discord's ``*_rtpsize`` transport encryption, in both directions.

rtpsize modes authenticate (but do not encrypt) the RTP header including CSRCs and, when the X bit is set, the
4-byte extension preamble; the extension body, the payload and any padding are encrypted. The nonce is a 32-bit
counter appended to the datagram (XChaCha20: counter + 20 zero bytes; AES-256-GCM: counter + 8 zero bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import nacl.bindings
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

XCHACHA = "aead_xchacha20_poly1305_rtpsize"
AES_GCM = "aead_aes256_gcm_rtpsize"
SUPPORTED_MODES = (AES_GCM, XCHACHA)

OPUS_PAYLOAD_TYPE = 0x78
RTP_VERSION_BYTE = 0x80
SILENCE_FRAME = b"\xf8\xff\xfe"


class TransportError(ValueError):
    """A datagram that cannot be authenticated or parsed."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet in the clear: header fields, an optional header extension and the payload (a DAVE frame)."""

    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    payload_type: int = OPUS_PAYLOAD_TYPE
    extension: bytes = b""  # extension body (a multiple of 4 bytes), profile 0xBEDE
    padding: int = 0  # number of padding bytes to append (the last one holds the count)

    def header(self) -> bytes:
        first = RTP_VERSION_BYTE | (0x20 if self.padding else 0) | (0x10 if self.extension else 0)
        header = struct.pack(">BBHII", first, self.payload_type, self.sequence & 0xFFFF,
                             self.timestamp & 0xFFFFFFFF, self.ssrc)
        if self.extension:
            header += struct.pack(">HH", 0xBEDE, len(self.extension) // 4)
        return header

    def body(self) -> bytes:
        pad = b""
        if self.padding:
            pad = bytes(self.padding - 1) + bytes([self.padding])
        return self.extension + self.payload + pad


def _nonce(mode: str, counter: int) -> bytes:
    prefix = struct.pack(">I", counter & 0xFFFFFFFF)
    return prefix + bytes(20 if mode == XCHACHA else 8)


def seal(mode: str, key: bytes, aad: bytes, plaintext: bytes, counter: int) -> bytes:
    """``aad || ciphertext || counter`` as a Discord voice datagram."""
    nonce = _nonce(mode, counter)
    if mode == XCHACHA:
        ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)
    elif mode == AES_GCM:
        ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad)
    else:
        raise TransportError(f"unsupported mode {mode}")
    return aad + ciphertext + nonce[:4]


def open_sealed(mode: str, key: bytes, aad_length: int, datagram: bytes) -> bytes:
    """Authenticate and decrypt what :func:`seal` produced (given where the clear part ends)."""
    if len(datagram) < aad_length + 4 + 16:
        raise TransportError("datagram too short")
    aad = datagram[:aad_length]
    nonce = _nonce(mode, struct.unpack(">I", datagram[-4:])[0])
    ciphertext = datagram[aad_length:-4]
    try:
        if mode == XCHACHA:
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)
        if mode == AES_GCM:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except Exception as error:  # both libraries raise their own types; callers only need "not authentic"
        raise TransportError(f"authentication failed: {error}") from error
    raise TransportError(f"unsupported mode {mode}")


def encrypt_packet(mode: str, key: bytes, packet: RtpPacket, counter: int) -> bytes:
    return seal(mode, key, packet.header(), packet.body(), counter)


def is_rtcp(datagram: bytes) -> bool:
    return len(datagram) >= 2 and 200 <= datagram[1] <= 204


def decrypt_packet(mode: str, key: bytes, datagram: bytes) -> RtpPacket:
    """Transport-decrypt an rtpsize RTP datagram, strip extension body and padding, keep the DAVE layer."""
    if len(datagram) < 12 or datagram[0] >> 6 != 2:
        raise TransportError("not an RTP packet")
    first, payload_type, sequence, timestamp, ssrc = struct.unpack_from(">BBHII", datagram)
    header_length = 12 + 4 * (first & 0x0F)
    has_extension = bool(first & 0x10)
    extension_words = 0
    if has_extension:
        if len(datagram) < header_length + 4:
            raise TransportError("truncated extension preamble")
        extension_words = struct.unpack_from(">H", datagram, header_length + 2)[0]
        header_length += 4
    body = open_sealed(mode, key, header_length, datagram)
    extension = body[: 4 * extension_words]
    payload = body[4 * extension_words:]
    padding = 0
    if first & 0x20:
        if not payload or payload[-1] == 0 or payload[-1] > len(payload):
            raise TransportError("bad RTP padding")
        padding = payload[-1]
        payload = payload[:-padding]
    return RtpPacket(sequence=sequence, timestamp=timestamp, ssrc=ssrc, payload=payload,
                     payload_type=payload_type & 0x7F, extension=extension, padding=padding)


def rtcp_bye(mode: str, key: bytes, ssrc: int, counter: int) -> bytes:
    """An RTCP BYE (RFC 3550 6.6) for ``ssrc``, its 8-byte header clear and authenticated like other RTCP."""
    return seal(mode, key, struct.pack(">BBHI", 0x81, 203, 1, ssrc), b"", counter)


def ip_discovery_response(ssrc: int, address: str, port: int) -> bytes:
    """The 74-byte IP discovery reply: type 2, length 70, SSRC, NUL-padded address, port."""
    encoded = address.encode("ascii")[:63]
    return struct.pack(">HHI", 2, 70, ssrc) + encoded + bytes(64 - len(encoded)) + struct.pack(">H", port)


def parse_ip_discovery_request(datagram: bytes) -> int | None:
    """The SSRC of an IP discovery request, or None if the datagram is not one."""
    if len(datagram) == 74 and datagram[:4] == b"\x00\x01\x00\x46":
        return struct.unpack_from(">I", datagram, 4)[0]
    return None
