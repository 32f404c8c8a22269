"""The simulator's RTP transport layer and fault injector on their own."""

from __future__ import annotations

import os
import struct

import nacl.bindings
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pandora_simulator import FaultPlan
from pandora_simulator.rtp import (
    AES_GCM,
    XCHACHA,
    RtpPacket,
    TransportError,
    decrypt_packet,
    encrypt_packet,
    ip_discovery_response,
    parse_ip_discovery_request,
)

KEY = bytes(range(32))


@pytest.mark.parametrize("mode", [XCHACHA, AES_GCM])
def test_extension_and_padding_round_trip(mode: str) -> None:
    packet = RtpPacket(sequence=65535, timestamp=2**32 - 1, ssrc=7, payload=b"dave frame\xfa\xfa",
                       extension=b"\x10\x80\x00\x00", padding=5)
    datagram = encrypt_packet(mode, KEY, packet, counter=9)
    assert datagram[0] == 0xB0 and datagram[12:14] == b"\xbe\xde"  # P and X set; preamble in the clear
    assert datagram[-4:] == struct.pack(">I", 9)
    assert decrypt_packet(mode, KEY, datagram) == packet


@pytest.mark.parametrize("mode", [XCHACHA, AES_GCM])
def test_matches_discord_rtpsize_layout(mode: str) -> None:
    """Independent construction: AAD = 12-byte header + preamble, nonce = counter then zeros."""
    header = struct.pack(">BBHII", 0x90, 0x78, 1, 960, 42) + b"\xbe\xde\x00\x01"
    body = b"\x10\x01\x00\x00" + b"opus"
    nonce = struct.pack(">I", 3)
    if mode == XCHACHA:
        sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(body, header, nonce + bytes(20), KEY)
    else:
        sealed = AESGCM(KEY).encrypt(nonce + bytes(8), body, header)
    packet = decrypt_packet(mode, KEY, header + sealed + nonce)
    assert (packet.payload, packet.extension, packet.ssrc) == (b"opus", b"\x10\x01\x00\x00", 42)


def test_tampered_header_fails_authentication() -> None:
    datagram = bytearray(encrypt_packet(XCHACHA, KEY, RtpPacket(1, 2, 3, b"x" * 20), counter=1))
    datagram[8] ^= 1  # the SSRC is authenticated data
    with pytest.raises(TransportError):
        decrypt_packet(XCHACHA, KEY, bytes(datagram))


def test_ip_discovery_request_and_response() -> None:
    request = struct.pack(">HHI", 1, 70, 1234) + bytes(66)
    assert parse_ip_discovery_request(request) == 1234
    assert parse_ip_discovery_request(os.urandom(74)[:73]) is None
    response = ip_discovery_response(1234, "127.0.0.1", 50000)
    assert len(response) == 74 and response[:2] == b"\x00\x02"
    assert response[8:17] == b"127.0.0.1" and response[17] == 0
    assert struct.unpack(">H", response[-2:])[0] == 50000


def _outcome(plan: FaultPlan, count: int = 200) -> list[int]:
    injector = plan.injector(receiver_ssrc=1002, sender_ssrc=1001)
    sent = []
    for n in range(count):
        sent += [p.sequence for _, p in injector.process(RtpPacket(n, n * 960, 1001, b"x"))]
    sent += [p.sequence for _, p in injector.flush()]
    return sent


def test_fault_injector_is_deterministic_and_matches_its_rates() -> None:
    plan = FaultPlan(loss=0.1, reorder=0.1, duplicate=0.1, seed=5)
    first = _outcome(plan)
    assert first == _outcome(plan)
    assert first != _outcome(FaultPlan(loss=0.1, reorder=0.1, duplicate=0.1, seed=6))
    lost = 200 - len(set(first))
    duplicated = len(first) - len(set(first))
    assert 5 <= lost <= 40 and 5 <= duplicated <= 40
    assert first != sorted(first)


def test_no_faults_is_the_identity() -> None:
    assert _outcome(FaultPlan(seed=1)) == list(range(200))
