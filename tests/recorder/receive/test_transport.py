import os

import pytest
from receive_testkit import Sender, opus_frames

from pandora_recorder.receive.drops import Drop, DropReason
from pandora_recorder.receive.rtp import parse_rtp, strip_payload
from pandora_recorder.receive.transport import transport_decryptor
from pandora_simulator.rtp import AES_GCM, XCHACHA

MODES = [XCHACHA, AES_GCM]


@pytest.mark.parametrize("mode", MODES)
def test_opus_frames_come_back_byte_identical(mode: str, key: bytes) -> None:
    sender = Sender(mode, key, ssrc=42)
    decryptor = transport_decryptor(mode, key)
    frames = opus_frames(5)
    for index, frame in enumerate(frames):
        extension = b"\x10\xff\x00\x00" if index % 2 else b""
        datagram = sender.datagram(frame, extension=extension, padding=index)
        packet = parse_rtp(datagram)
        assert strip_payload(packet, decryptor.decrypt(packet, datagram)) == frame


@pytest.mark.parametrize("mode", MODES)
def test_tampered_header_fails_authentication(mode: str, key: bytes) -> None:
    datagram = bytearray(Sender(mode, key, ssrc=42).datagram(b"payload"))
    datagram[3] ^= 1  # the sequence number is authenticated, not encrypted
    packet = parse_rtp(bytes(datagram))
    with pytest.raises(Drop) as caught:
        transport_decryptor(mode, key).decrypt(packet, bytes(datagram))
    assert caught.value.reason == DropReason.TRANSPORT_AUTH


@pytest.mark.parametrize("mode", MODES)
def test_wrong_key_fails_authentication(mode: str, key: bytes) -> None:
    datagram = Sender(mode, key, ssrc=42).datagram(b"payload")
    with pytest.raises(Drop):
        transport_decryptor(mode, os.urandom(32)).decrypt(parse_rtp(datagram), datagram)


def test_unknown_mode_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        transport_decryptor("xsalsa20_poly1305", key)


def test_xchacha_handles_datagrams_larger_than_discordpy_reads(key: bytes) -> None:
    payload = bytes(range(256)) * 10
    datagram = Sender(XCHACHA, key, ssrc=1).datagram(payload)
    assert transport_decryptor(XCHACHA, key).decrypt(parse_rtp(datagram), datagram) == payload
