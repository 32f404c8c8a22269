"""End-to-end encrypted frames through the pipeline, with real DAVE groups (davey sessions, simulator gateway)."""

import pytest
from receive_testkit import DaveChannel, Sender, opus_frames

from pandora_recorder.frames import ReceivedFrame
from pandora_recorder.receive import DaveDecryptor, DropReason, ReceivePipeline, transport_decryptor
from pandora_recorder.receive.dave import SILENCE_FRAME
from pandora_simulator.rtp import AES_GCM, XCHACHA

RECORDER, ALICE, BOB, CAROL = 900, 1001, 1002, 1003


def recorder_pipeline(
    channel: DaveChannel, out: list[ReceivedFrame], mode: str, key: bytes, recoveries: list[int] | None = None
) -> ReceivePipeline:
    dave = DaveDecryptor(
        lambda: channel.session(RECORDER), lambda: 1,
        (lambda: recoveries.append(1)) if recoveries is not None else None, failure_tolerance=5,
    )
    pipeline = ReceivePipeline(out.append, dave, max_hold=60.0)
    pipeline.set_transport(transport_decryptor(mode, key))
    return pipeline


@pytest.mark.parametrize("mode", [XCHACHA, AES_GCM])
def test_dave_frames_of_each_speaker_come_out_byte_identical(mode: str, key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE, BOB)
    out: list[ReceivedFrame] = []
    pipeline = recorder_pipeline(channel, out, mode, key)
    pipeline.on_speaking(ALICE, 11)
    pipeline.on_speaking(BOB, 22)
    alice, bob = Sender(mode, key, 11), Sender(mode, key, 22)
    alice_frames, bob_frames = opus_frames(20, 440), opus_frames(20, 550)
    for a, b in zip(alice_frames, bob_frames, strict=True):
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, a), extension=b"\x51\x00\x00\x00", padding=4))
        pipeline.on_datagram(bob.datagram(channel.encrypt(BOB, b)))
    pipeline.flush()
    assert [f.opus for f in out if f.user_id == ALICE] == alice_frames
    assert [f.opus for f in out if f.user_id == BOB] == bob_frames
    assert pipeline.counters.total() == 0


def test_frames_keep_flowing_across_epoch_changes_from_joins_and_leaves(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE, BOB)
    out: list[ReceivedFrame] = []
    pipeline = recorder_pipeline(channel, out, XCHACHA, key)
    pipeline.on_speaking(ALICE, 11)
    alice = Sender(XCHACHA, key, 11)
    frames = opus_frames(30)
    for frame in frames[:10]:
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    epoch = channel.group.epoch
    channel.join(CAROL)
    for frame in frames[10:20]:
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    channel.leave(BOB)
    assert channel.group.epoch > epoch + 1
    for frame in frames[20:]:
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    pipeline.flush()
    assert [f.opus for f in out] == frames


def test_early_dave_packets_are_decrypted_after_op5(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE)
    out: list[ReceivedFrame] = []
    pipeline = recorder_pipeline(channel, out, AES_GCM, key)
    alice = Sender(AES_GCM, key, 11)
    frames = opus_frames(10)
    for frame in frames:
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    assert out == []
    pipeline.on_speaking(ALICE, 11)
    pipeline.flush()
    assert [f.opus for f in out] == frames


def test_duplicates_are_dropped_before_dave_so_they_do_not_count_as_failures(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE)
    out: list[ReceivedFrame] = []
    recoveries: list[int] = []
    pipeline = recorder_pipeline(channel, out, XCHACHA, key, recoveries)
    pipeline.on_speaking(ALICE, 11)
    alice = Sender(XCHACHA, key, 11)
    frames = opus_frames(10)
    for frame in frames:
        datagram = alice.datagram(channel.encrypt(ALICE, frame))
        pipeline.on_datagram(datagram)
        pipeline.on_datagram(datagram)
    pipeline.flush()
    assert [f.opus for f in out] == frames
    assert pipeline.counters == {DropReason.DUPLICATE: 10}
    assert recoveries == []


def test_silence_passes_dave_unencrypted_and_is_not_written(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE)
    out: list[ReceivedFrame] = []
    pipeline = recorder_pipeline(channel, out, XCHACHA, key)
    pipeline.on_speaking(ALICE, 11)
    alice = Sender(XCHACHA, key, 11)
    frame = opus_frames(1)[0]
    pipeline.on_datagram(alice.datagram(SILENCE_FRAME))
    pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    pipeline.flush()
    assert [f.opus for f in out] == [frame]
    assert pipeline.counters == {DropReason.SILENCE: 1}


def test_repeated_dave_failures_ask_for_a_new_key_once_and_never_invent_audio(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE)
    out: list[ReceivedFrame] = []
    recoveries: list[int] = []
    pipeline = recorder_pipeline(channel, out, XCHACHA, key, recoveries)
    pipeline.on_speaking(ALICE, 11)
    alice = Sender(XCHACHA, key, 11)
    for frame in opus_frames(12):
        encrypted = bytearray(channel.encrypt(ALICE, frame))
        encrypted[0] ^= 0xFF  # corrupt the E2EE ciphertext; the transport layer stays valid
        pipeline.on_datagram(alice.datagram(bytes(encrypted)))
    assert out == []
    assert recoveries == [1]  # tolerance 5 reached twice, but the cool-down allows one re-key
    good = opus_frames(1, 300)[0]
    pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, good)))
    pipeline.flush()
    assert [f.opus for f in out] == [good]
    assert pipeline.counters[DropReason.DAVE_FAILED] == 12  # held for a retry, failed again, dropped


def test_frames_from_a_sender_ahead_of_our_commit_are_decrypted_once_we_catch_up(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE)
    out: list[ReceivedFrame] = []
    pipeline = recorder_pipeline(channel, out, XCHACHA, key)
    pipeline.on_speaking(ALICE, 11)
    alice = Sender(XCHACHA, key, 11)
    frames = opus_frames(20)
    for frame in frames[:5]:
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    channel.lagging.add(RECORDER)  # our copy of the next commit is late; alice already uses the new key
    channel.join(CAROL)
    for frame in frames[5:12]:
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    channel.catch_up()
    for frame in frames[12:]:
        pipeline.on_datagram(alice.datagram(channel.encrypt(ALICE, frame)))
    pipeline.flush()
    assert [f.opus for f in out] == frames
    assert pipeline.retried == 7
    assert pipeline.counters.total() == 0


def test_frames_that_never_become_decryptable_are_dropped_after_the_wait(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE)
    now = [100.0]
    out: list[ReceivedFrame] = []
    pipeline = ReceivePipeline(out.append, DaveDecryptor(lambda: channel.session(RECORDER), lambda: 1),
                               clock=lambda: now[0])
    pipeline.set_transport(transport_decryptor(XCHACHA, key))
    pipeline.on_speaking(BOB, 22)  # bob is not in our group: no key will ever come
    bob = Sender(XCHACHA, key, 22)
    for frame in opus_frames(3):
        pipeline.on_datagram(bob.datagram(frame + b"\x00\xfa\xfa"))
    pipeline.release_due()
    assert pipeline.counters[DropReason.DAVE_FAILED] == 0
    now[0] += 1.5
    pipeline.release_due()
    assert pipeline.counters[DropReason.DAVE_FAILED] == 3
    assert out == []
