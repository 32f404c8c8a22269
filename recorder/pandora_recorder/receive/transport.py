"""Transport (RTP) decryption for Discord's two current modes.

Both modes authenticate the unencrypted header part (``RtpPacket.aad_size`` bytes) and take their nonce from
the 4-byte counter at the end of the datagram: XChaCha20-Poly1305 pads it with 20 zero bytes, AES-256-GCM
with 8. PyNaCl's binding and ``cryptography``'s AESGCM do the cryptography.
"""

from __future__ import annotations

from typing import Protocol

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pandora_recorder.receive.drops import Drop, DropReason
from pandora_recorder.receive.rtp import NONCE_SUFFIX_SIZE, RtpPacket

XCHACHA20_MODE = "aead_xchacha20_poly1305_rtpsize"
AES256_GCM_MODE = "aead_aes256_gcm_rtpsize"
SUPPORTED_MODES = (AES256_GCM_MODE, XCHACHA20_MODE)  # Discord prefers AES-GCM when both sides have it


class TransportDecryptor(Protocol):
    mode: str

    def decrypt(self, packet: RtpPacket, datagram: bytes) -> bytes:
        """Return the decrypted RTP payload (extension body + Opus/DAVE frame + padding) or raise ``Drop``."""
        ...


class XChaCha20Decryptor:
    mode = XCHACHA20_MODE
    _NONCE_PAD = bytes(20)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("xchacha20 key must be 32 bytes")
        self._key = key

    def decrypt(self, packet: RtpPacket, datagram: bytes) -> bytes:
        aad = packet.aad_size
        try:
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                datagram[aad:-NONCE_SUFFIX_SIZE],
                datagram[:aad],
                datagram[-NONCE_SUFFIX_SIZE:] + self._NONCE_PAD,
                self._key,
            )
        except nacl.exceptions.CryptoError:
            raise Drop(DropReason.TRANSPORT_AUTH) from None


class Aes256GcmDecryptor:
    mode = AES256_GCM_MODE
    _NONCE_PAD = bytes(8)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("aes256-gcm key must be 32 bytes")
        self._aead = AESGCM(key)

    def decrypt(self, packet: RtpPacket, datagram: bytes) -> bytes:
        aad = packet.aad_size
        try:
            return self._aead.decrypt(
                datagram[-NONCE_SUFFIX_SIZE:] + self._NONCE_PAD,
                datagram[aad:-NONCE_SUFFIX_SIZE],
                datagram[:aad],
            )
        except InvalidTag:
            raise Drop(DropReason.TRANSPORT_AUTH) from None


def transport_decryptor(mode: str, key: bytes) -> TransportDecryptor:
    """The decryptor for a mode named in the session description (voice op 4)."""
    if mode == XCHACHA20_MODE:
        return XChaCha20Decryptor(key)
    if mode == AES256_GCM_MODE:
        return Aes256GcmDecryptor(key)
    raise ValueError(f"unsupported transport encryption mode {mode!r}")
