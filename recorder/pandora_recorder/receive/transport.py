"""Transport (RTP) decryption for Discord's two current modes.

Both modes authenticate the unencrypted header part (``RtpPacket.aad_size`` bytes) and take their nonce from
the 4-byte counter at the end of the datagram: XChaCha20-Poly1305 pads it with 20 zero bytes, AES-256-GCM
with 8. libsodium (the copy bundled with PyNaCl) and ``cryptography``'s AESGCM do the cryptography.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pandora.discordpy_compat import libsodium_path
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


def _libsodium_xchacha20_decrypt() -> Callable[..., int]:
    """libsodium's ``crypto_aead_xchacha20poly1305_ietf_decrypt`` from the copy bundled in PyNaCl.

    Called through ``ctypes.PyDLL``, which keeps the GIL for the call. PyNaCl's cffi binding releases and
    re-takes the GIL around every call; for a 1 µs cipher that costs more than the cipher (3.5 µs per packet
    alone, 7 µs and more while the writer thread wants the GIL, against 2 µs here), and the budget for a whole
    packet is 20 µs.
    """
    function = ctypes.PyDLL(libsodium_path()).crypto_aead_xchacha20poly1305_ietf_decrypt
    function.restype = ctypes.c_int
    function.argtypes = [
        ctypes.c_char_p, ctypes.POINTER(ctypes.c_ulonglong), ctypes.c_void_p,  # message out, its length, nsec
        ctypes.c_char_p, ctypes.c_ulonglong,  # ciphertext with tag
        ctypes.c_char_p, ctypes.c_ulonglong,  # additional data
        ctypes.c_char_p, ctypes.c_char_p,  # 24-byte nonce, 32-byte key
    ]
    return function  # type: ignore[no-any-return]


class XChaCha20Decryptor:
    """One instance is used by one thread at a time (the pipeline's lock), so its output buffer is reused."""

    mode = XCHACHA20_MODE
    _NONCE_PAD = bytes(20)
    _decrypt = staticmethod(_libsodium_xchacha20_decrypt())

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("xchacha20 key must be 32 bytes")
        self._key = key
        self._out = ctypes.create_string_buffer(2048)  # discord.py's socket reader never reads more
        self._out_size = ctypes.c_ulonglong()
        self._out_size_ref = ctypes.byref(self._out_size)

    def decrypt(self, packet: RtpPacket, datagram: bytes) -> bytes:
        aad = packet.aad_size
        ciphertext = datagram[aad:-NONCE_SUFFIX_SIZE]
        if len(ciphertext) > len(self._out):
            self._out = ctypes.create_string_buffer(len(ciphertext))
        failed = self._decrypt(
            self._out, self._out_size_ref, None,
            ciphertext, len(ciphertext),
            datagram[:aad], aad,
            datagram[-NONCE_SUFFIX_SIZE:] + self._NONCE_PAD,
            self._key,
        )
        if failed:
            raise Drop(DropReason.TRANSPORT_AUTH)
        return self._out.raw[: self._out_size.value]


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
