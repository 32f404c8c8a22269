import struct

import pytest
from receive_testkit import Sender

from pandora_recorder.receive.drops import Drop, DropReason
from pandora_recorder.receive.rtp import parse_rtp, strip_payload
from pandora_simulator.rtp import XCHACHA, ip_discovery_response


def reason_of(datagram: bytes) -> str:
    with pytest.raises(Drop) as caught:
        parse_rtp(datagram)
    return caught.value.reason


def test_header_fields_are_read(key: bytes) -> None:
    sender = Sender(XCHACHA, key, ssrc=0xDEADBEEF, sequence=65535, timestamp=0xFFFFFF00)
    packet = parse_rtp(sender.datagram(b"opus"))
    assert (packet.ssrc, packet.sequence, packet.timestamp) == (0xDEADBEEF, 65535, 0xFFFFFF00)
    assert packet.aad_size == 12
    assert packet.extension_size == 0
    assert not packet.padded


def test_extension_preamble_is_part_of_the_clear_header(key: bytes) -> None:
    datagram = Sender(XCHACHA, key, ssrc=1).datagram(b"opus", extension=b"\x10\xaa\x00\x00" * 2, padding=5)
    packet = parse_rtp(datagram)
    assert packet.aad_size == 16
    assert packet.extension_size == 8
    assert packet.padded


def test_csrcs_are_part_of_the_clear_header() -> None:
    header = bytes([0x82, 0x78]) + struct.pack(">HII", 1, 2, 3) + b"\x00\x00\x00\x07" * 2
    packet = parse_rtp(header + bytes(40))
    assert packet.aad_size == 20
    assert packet.ssrc == 3


def test_ip_discovery_reply_is_skipped() -> None:
    assert reason_of(ip_discovery_response(5, "127.0.0.1", 4000)) == DropReason.IP_DISCOVERY


@pytest.mark.parametrize("packet_type", [200, 201, 202, 203, 204])
def test_rtcp_is_skipped(packet_type: int) -> None:
    assert reason_of(bytes([0x80, packet_type]) + bytes(40)) == DropReason.RTCP


def test_other_payload_types_are_skipped() -> None:
    assert reason_of(bytes([0x80, 0x60]) + bytes(40)) == DropReason.PAYLOAD_TYPE


def test_marker_bit_does_not_hide_opus() -> None:
    assert parse_rtp(bytes([0x80, 0x80 | 0x78]) + bytes(40)).sequence == 0


def test_short_and_non_rtp_datagrams_are_dropped() -> None:
    assert reason_of(b"\x80\x78") == DropReason.SHORT
    assert reason_of(bytes([0x80, 0x78]) + bytes(20)) == DropReason.SHORT  # no room for tag and nonce
    assert reason_of(bytes([0x40, 0x78]) + bytes(40)) == DropReason.NOT_RTP


def test_strip_removes_extension_body_then_padding(key: bytes) -> None:
    datagram = Sender(XCHACHA, key, ssrc=1).datagram(b"frame", extension=b"\x01\x02\x03\x04", padding=3)
    packet = parse_rtp(datagram)
    assert strip_payload(packet, b"\x01\x02\x03\x04" + b"frame" + b"\x00\x00\x03") == b"frame"


def test_strip_rejects_impossible_padding(key: bytes) -> None:
    packet = parse_rtp(Sender(XCHACHA, key, ssrc=1).datagram(b"x", padding=1))
    for decrypted in (b"frame\x00", b"ab\x09", b""):
        with pytest.raises(Drop) as caught:
            strip_payload(packet, decrypted)
        assert caught.value.reason == DropReason.BAD_PADDING


def test_strip_rejects_extension_longer_than_payload(key: bytes) -> None:
    packet = parse_rtp(Sender(XCHACHA, key, ssrc=1).datagram(b"x", extension=bytes(8)))
    with pytest.raises(Drop) as caught:
        strip_payload(packet, bytes(4))
    assert caught.value.reason == DropReason.BAD_EXTENSION
