"""The whole receive path in a transport-only session (DAVE end-to-end tests live in test_dave_pipeline.py)."""

import random
import time
from collections.abc import Callable
from typing import Any

import davey
import pytest
from receive_testkit import DaveState, Sender, dave_decryptor, opus_frames

from pandora_recorder.frames import ReceivedFrame
from pandora_recorder.receive import DaveDecryptor, DropReason, ReceivePipeline, transport_decryptor
from pandora_recorder.receive.dave import SILENCE_FRAME
from pandora_simulator.rtp import AES_GCM, XCHACHA, ip_discovery_response


def transport_only_pipeline(out: list[ReceivedFrame], mode: str, key: bytes) -> ReceivePipeline:
    pipeline = ReceivePipeline(out.append, DaveDecryptor(), max_hold=60.0)  # nothing attached: transport-only
    pipeline.set_transport(transport_decryptor(mode, key))
    return pipeline


def alice_pipeline(submit: Callable[[ReceivedFrame], None], key: bytes, **tuning: Any) -> ReceivePipeline:
    """A transport-only pipeline (XChaCha20) where SSRC 11 is user 1001."""
    pipeline = ReceivePipeline(submit, DaveDecryptor(), **tuning)
    pipeline.set_transport(transport_decryptor(XCHACHA, key))
    pipeline.on_speaking(1001, 11)
    return pipeline


def opus_of(frames: list[ReceivedFrame], user_id: int) -> list[bytes]:
    return [frame.opus for frame in frames if frame.user_id == user_id]


@pytest.mark.parametrize("mode", [XCHACHA, AES_GCM])
def test_two_speakers_each_get_their_frames_in_order(mode: str, key: bytes) -> None:
    out: list[ReceivedFrame] = []
    pipeline = transport_only_pipeline(out, mode, key)
    pipeline.on_speaking(1001, 11)
    pipeline.on_speaking(1002, 22)
    alice, bob = Sender(mode, key, 11), Sender(mode, key, 22, sequence=65530, timestamp=(1 << 32) - 2000)
    alice_frames, bob_frames = opus_frames(30, 440), opus_frames(30, 660)
    for a, b in zip(alice_frames, bob_frames, strict=True):
        pipeline.on_datagram(alice.datagram(a, extension=b"\x10\x01\x02\x03"))
        pipeline.on_datagram(bob.datagram(b, padding=7))
    pipeline.flush()
    assert opus_of(out, 1001) == alice_frames
    assert opus_of(out, 1002) == bob_frames
    assert {frame.ssrc for frame in out if frame.user_id == 1002} == {22}
    assert pipeline.counters.total() == 0
    assert pipeline.frames_by_user == {1001: 30, 1002: 30}


def test_packets_before_op5_are_replayed_once_mapped(key: bytes) -> None:
    out: list[ReceivedFrame] = []
    pipeline = transport_only_pipeline(out, XCHACHA, key)
    sender = Sender(XCHACHA, key, 33)
    frames = opus_frames(20)
    for frame in frames[:12]:
        pipeline.on_datagram(sender.datagram(frame))
    pipeline.release_due()
    assert out == [] and pipeline.counters.total() == 0  # held, neither written nor dropped
    pipeline.on_speaking(1003, 33)
    for frame in frames[12:]:
        pipeline.on_datagram(sender.datagram(frame))
    pipeline.flush()
    assert opus_of(out, 1003) == frames
    assert pipeline.replayed == 12


def test_loss_reordering_and_duplication_keep_every_delivered_frame_once_in_order(key: bytes) -> None:
    rng = random.Random(7)
    out: list[ReceivedFrame] = []
    pipeline = transport_only_pipeline(out, AES_GCM, key)
    pipeline.on_speaking(1001, 11)
    sender = Sender(AES_GCM, key, 11)
    frames = opus_frames(200)
    delivered: list[tuple[bytes, bytes]] = []  # (datagram, frame) that the network let through
    for frame in frames:
        datagram = sender.datagram(frame)
        if rng.random() < 0.05:
            continue
        delivered.append((datagram, frame))
        if rng.random() < 0.05:
            delivered.append((datagram, frame))
    for index in range(len(delivered) - 1):  # swap neighbours: reordering within a few packets
        if rng.random() < 0.05:
            delivered[index], delivered[index + 1] = delivered[index + 1], delivered[index]
    for datagram, _ in delivered:
        pipeline.on_datagram(datagram)
    pipeline.flush()
    expected = [frame for frame in frames if any(frame is f for _, f in delivered)]
    assert opus_of(out, 1001) == expected
    assert pipeline.counters[DropReason.DUPLICATE] == len(delivered) - len(expected)


def test_what_is_not_audio_is_counted_and_skipped(key: bytes) -> None:
    out: list[ReceivedFrame] = []
    pipeline = ReceivePipeline(out.append, DaveDecryptor())
    sender = Sender(XCHACHA, key, 11)
    pipeline.on_datagram(sender.datagram(b"before the key"))
    pipeline.set_transport(transport_decryptor(XCHACHA, key))
    pipeline.on_speaking(1001, 11)
    pipeline.on_datagram(ip_discovery_response(11, "127.0.0.1", 5000))
    pipeline.on_datagram(bytes([0x80, 200]) + bytes(30))
    pipeline.on_datagram(bytes([0x80, 0x60]) + bytes(30))
    pipeline.on_datagram(sender.datagram(SILENCE_FRAME))
    forged = bytearray(sender.datagram(b"forged"))
    forged[-6] ^= 0xFF
    pipeline.on_datagram(bytes(forged))
    pipeline.flush()
    assert out == []
    assert dict(pipeline.counters) == {
        DropReason.NO_KEY: 1, DropReason.IP_DISCOVERY: 1, DropReason.RTCP: 1, DropReason.PAYLOAD_TYPE: 1,
        DropReason.SILENCE: 1, DropReason.TRANSPORT_AUTH: 1,
    }


def test_dave_session_not_ready_drops_instead_of_inventing_audio(key: bytes) -> None:
    out: list[ReceivedFrame] = []
    session = davey.DaveSession(1, 555, 777)  # protocol v1, no group yet
    pipeline = ReceivePipeline(out.append, dave_decryptor(DaveState(lambda: session)))
    pipeline.set_transport(transport_decryptor(XCHACHA, key))
    pipeline.on_speaking(1001, 11)
    sender = Sender(XCHACHA, key, 11)
    pipeline.on_datagram(sender.datagram(b"ciphertext\x00\x01" + b"\xfa\xfa"))  # shaped like a DAVE frame
    pipeline.on_datagram(sender.datagram(opus_frames(1)[0]))  # plain Opus is not allowed when DAVE is on
    pipeline.flush()
    assert out == []
    assert pipeline.counters[DropReason.DAVE_NOT_READY] == 1
    assert pipeline.counters[DropReason.DAVE_PLAIN_REFUSED] == 1


def test_a_group_that_never_arrives_triggers_a_rekey_after_the_timeout(key: bytes) -> None:
    session = davey.DaveSession(1, 555, 777)  # never joins a group
    state = DaveState(lambda: session)
    pipeline = ReceivePipeline([].append, dave_decryptor(state, not_ready_timeout=0.05))
    pipeline.set_transport(transport_decryptor(XCHACHA, key))
    pipeline.on_speaking(1001, 11)
    sender = Sender(XCHACHA, key, 11)
    pipeline.on_datagram(sender.datagram(b"e2ee\x00\x01\xfa\xfa"))
    assert state.rekeys == 0
    time.sleep(0.06)
    pipeline.on_datagram(sender.datagram(b"e2ee\x00\x02\xfa\xfa"))
    assert state.rekeys == 1
    pipeline.flush()  # held for a group that might still come (retry.py); at the end, counted as never readable
    assert pipeline.counters[DropReason.DAVE_NOT_READY] == 2


def test_an_unexpected_error_is_counted_and_receiving_goes_on(key: bytes) -> None:
    out: list[ReceivedFrame] = []

    def broken_writer(frame: ReceivedFrame) -> None:
        if not out:
            out.append(frame)
            raise OSError("disk full")
        out.append(frame)

    pipeline = alice_pipeline(broken_writer, key, reorder_window=0)
    sender = Sender(XCHACHA, key, 11)
    frames = opus_frames(3)
    for frame in frames:
        pipeline.on_datagram(sender.datagram(frame))
    assert [f.opus for f in out] == frames
    assert pipeline.counters == {DropReason.INTERNAL_ERROR: 1}


def test_a_frame_the_writer_refused_is_counted_as_dropped_not_as_handed_over(key: bytes) -> None:
    taken: list[ReceivedFrame] = []

    def writer_refusing_the_second(frame: ReceivedFrame) -> None:
        if frame.sequence == 1:
            raise OSError("disk full")
        taken.append(frame)

    pipeline = alice_pipeline(writer_refusing_the_second, key, reorder_window=0)
    sender = Sender(XCHACHA, key, 11, sequence=0)
    for frame in opus_frames(3):
        pipeline.on_datagram(sender.datagram(frame))
    assert len(taken) == 2
    assert pipeline.frames_by_user == {1001: 2}
    assert pipeline.counters == {DropReason.INTERNAL_ERROR: 1}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_last_frames_before_everybody_stops_go_out_once_their_hold_is_over(key: bytes) -> None:
    # No datagram comes after them: the hold runs on the wall clock, so they reach the writer (and survive a crash)
    # a hold after they arrived, not whenever the next datagram comes.
    clock, out = FakeClock(), []
    pipeline = alice_pipeline(out.append, key, max_hold=0.1, clock=clock)
    sender = Sender(XCHACHA, key, 11)
    frames = opus_frames(3)
    for frame in frames:
        pipeline.on_datagram(sender.datagram(frame))
        clock.now += 0.02
    pipeline.release_due()
    assert out == []  # all within their hold
    clock.now += 0.05
    pipeline.release_due()
    assert opus_of(out, 1001) == frames[:1]  # its hold is over; the others' not yet
    clock.now += 0.05
    pipeline.release_due()
    assert opus_of(out, 1001) == frames
