"""End-to-end encrypted frames through the pipeline, with real DAVE groups (davey sessions, simulator gateway)."""

from dataclasses import dataclass, field

import pytest
from receive_testkit import DaveChannel, DaveState, Sender, dave_decryptor, opus_frames

from pandora_recorder.frames import ReceivedFrame
from pandora_recorder.receive import DropReason, ReceivePipeline, transport_decryptor
from pandora_recorder.receive.dave import SILENCE_FRAME
from pandora_simulator.rtp import AES_GCM, XCHACHA

RECORDER, ALICE, BOB, CAROL = 900, 1001, 1002, 1003
SSRCS = {ALICE: 11, BOB: 22, CAROL: 33}


@dataclass
class Call:
    """A DAVE call with the recorder's pipeline listening; ``send`` is a member speaking one frame."""

    channel: DaveChannel
    mode: str
    key: bytes
    out: list[ReceivedFrame] = field(default_factory=list)
    senders: dict[int, Sender] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dave = DaveState(lambda: self.channel.session(RECORDER))
        self.pipeline = ReceivePipeline(self.out.append, dave_decryptor(self.dave, failure_tolerance=5), max_hold=60.0)
        self.pipeline.set_transport(transport_decryptor(self.mode, self.key))

    def sender(self, user_id: int) -> Sender:
        if user_id not in self.senders:
            self.senders[user_id] = Sender(self.mode, self.key, SSRCS[user_id])
        return self.senders[user_id]

    def send(self, user_id: int, frame: bytes, *, encrypted: bytes | None = None, **rtp: object) -> None:
        payload = encrypted if encrypted is not None else self.channel.encrypt(user_id, frame)
        self.pipeline.on_datagram(self.sender(user_id).datagram(payload, **rtp))

    def recorded(self, user_id: int = ALICE) -> list[bytes]:
        self.pipeline.flush()
        return [frame.opus for frame in self.out if frame.user_id == user_id]


def call(key: bytes, *members: int, mode: str = XCHACHA, mapped: bool = True) -> Call:
    channel = DaveChannel()
    channel.join(RECORDER, *members)
    created = Call(channel, mode, key)
    if mapped:
        for member in members:
            created.pipeline.on_speaking(member, SSRCS[member])
    return created


@pytest.mark.parametrize("mode", [XCHACHA, AES_GCM])
def test_dave_frames_of_each_speaker_come_out_byte_identical(mode: str, key: bytes) -> None:
    c = call(key, ALICE, BOB, mode=mode)
    alice_frames, bob_frames = opus_frames(20, 440), opus_frames(20, 550)
    for a, b in zip(alice_frames, bob_frames, strict=True):
        c.send(ALICE, a, extension=b"\x51\x00\x00\x00", padding=4)
        c.send(BOB, b)
    assert c.recorded(ALICE) == alice_frames
    assert c.recorded(BOB) == bob_frames
    assert c.pipeline.counters.total() == 0


def test_frames_keep_flowing_across_epoch_changes_from_joins_and_leaves(key: bytes) -> None:
    c = call(key, ALICE, BOB)
    frames = opus_frames(30)
    for frame in frames[:10]:
        c.send(ALICE, frame)
    epoch = c.channel.group.epoch
    c.channel.join(CAROL)
    for frame in frames[10:20]:
        c.send(ALICE, frame)
    c.channel.leave(BOB)
    assert c.channel.group.epoch > epoch + 1
    for frame in frames[20:]:
        c.send(ALICE, frame)
    assert c.recorded() == frames


def test_early_dave_packets_are_decrypted_after_op5(key: bytes) -> None:
    c = call(key, ALICE, mode=AES_GCM, mapped=False)
    frames = opus_frames(10)
    for frame in frames:
        c.send(ALICE, frame)
    assert c.out == []
    c.pipeline.on_speaking(ALICE, SSRCS[ALICE])
    assert c.recorded() == frames


def test_duplicates_are_dropped_before_dave_so_they_do_not_count_as_failures(key: bytes) -> None:
    c = call(key, ALICE)
    frames = opus_frames(10)
    for frame in frames:
        datagram = c.sender(ALICE).datagram(c.channel.encrypt(ALICE, frame))
        c.pipeline.on_datagram(datagram)
        c.pipeline.on_datagram(datagram)
    assert c.recorded() == frames
    assert c.pipeline.counters == {DropReason.DUPLICATE: 10}
    assert c.dave.rekeys == 0


def test_silence_passes_dave_unencrypted_and_is_not_written(key: bytes) -> None:
    c = call(key, ALICE)
    frame = opus_frames(1)[0]
    c.send(ALICE, SILENCE_FRAME, encrypted=SILENCE_FRAME)
    c.send(ALICE, frame)
    assert c.recorded() == [frame]
    assert c.pipeline.counters == {DropReason.SILENCE: 1}


def test_repeated_dave_failures_ask_for_a_new_key_once_and_never_invent_audio(key: bytes) -> None:
    c = call(key, ALICE)
    for frame in opus_frames(12):
        encrypted = bytearray(c.channel.encrypt(ALICE, frame))
        encrypted[0] ^= 0xFF  # corrupt the E2EE ciphertext; the transport layer stays valid
        c.send(ALICE, frame, encrypted=bytes(encrypted))
    assert c.out == []
    assert c.dave.rekeys == 1  # tolerance 5 reached twice, but the cool-down allows one re-key
    good = opus_frames(1, 300)[0]
    c.send(ALICE, good)
    assert c.recorded() == [good]
    assert c.pipeline.counters[DropReason.DAVE_FAILED] == 12  # held for a retry, never decrypted, dropped


def test_frames_from_a_sender_ahead_of_our_commit_are_decrypted_once_we_catch_up(key: bytes) -> None:
    c = call(key, ALICE)
    frames = opus_frames(20)
    for frame in frames[:5]:
        c.send(ALICE, frame)
    c.channel.lagging.add(RECORDER)  # our copy of the next commit is late; alice already uses the new key
    c.channel.join(CAROL)
    for frame in frames[5:12]:
        c.send(ALICE, frame)
    c.channel.catch_up()
    for frame in frames[12:]:
        c.send(ALICE, frame)
    assert c.recorded() == frames
    assert c.pipeline.retried == 7
    assert c.pipeline.counters.total() == 0


def test_frames_sent_while_our_welcome_is_on_its_way_are_decrypted_once_we_are_in_the_group(key: bytes) -> None:
    # A recorder joining (or re-keying, or restarted after a crash): alice already encrypts for the epoch that adds
    # us while our welcome is still on its way, so our session is not ready yet. Those frames wait, then go in.
    channel = DaveChannel()
    channel.join(ALICE)
    channel.lagging.add(RECORDER)
    channel.join(RECORDER)
    c = Call(channel, XCHACHA, key)
    c.pipeline.on_speaking(ALICE, SSRCS[ALICE])
    frames = opus_frames(12)
    for frame in frames[:8]:
        c.send(ALICE, frame)
    assert not channel.session(RECORDER).ready and c.out == []
    channel.catch_up()
    for frame in frames[8:]:
        c.send(ALICE, frame)
    assert c.recorded() == frames
    assert c.pipeline.retried == 8
    assert c.pipeline.counters.total() == 0


def test_frames_that_never_become_decryptable_are_dropped_after_the_wait(key: bytes) -> None:
    channel = DaveChannel()
    channel.join(RECORDER, ALICE)
    now = [100.0]
    out: list[ReceivedFrame] = []
    pipeline = ReceivePipeline(out.append, dave_decryptor(DaveState(lambda: channel.session(RECORDER))),
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
