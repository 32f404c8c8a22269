"""Fuzzing the receive pipeline as discord.py's socket reader thread drives it.

Datagrams start out valid (real transport encryption, real DAVE frames from davey) and are then damaged: bytes
flipped, cut, extended, header bits and payload types rewritten, replaced by noise of tiny and huge sizes. A
second generator seals odd-but-authentic packets with the real key (lying header bits, CSRCs, extension lengths,
padding counts, damaged DAVE frames), so the steps after transport authentication see them too.

For every example: nothing escapes ``on_datagram``, nothing lands in ``internal_error`` (that counter means a
bug was swallowed), every datagram sent is either delivered or counted under a named drop reason, and whatever
is delivered is audio a sender really encrypted - damage never turns into invented audio.
"""

from __future__ import annotations

import os
import random
import struct
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receive_testkit import DaveChannel, DaveState, Sender, dave_decryptor, opus_frames

from pandora_recorder.frames import ReceivedFrame
from pandora_recorder.receive import DaveDecryptor, DropReason, ReceivePipeline, transport_decryptor
from pandora_recorder.receive.dave import SILENCE_FRAME
from pandora_simulator.rtp import AES_GCM, XCHACHA, TransportError, decrypt_packet, ip_discovery_response, seal

RECORDER, ALICE, BOB = 900, 1001, 1002
SSRCS = {ALICE: 11, BOB: 22}
STRANGER_SSRC = 77  # a sender the gateway never names (no op 5 ever comes)
KEY = bytes(range(32))
FRAMES = opus_frames(40)
MAX_UDP = 65_507

# A few seconds in CI; PANDORA_FUZZ_EXAMPLES=5000 searches longer. The DAVE group is made once (70 ms each).
FUZZ = settings(max_examples=int(os.environ.get("PANDORA_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
_channel: DaveChannel | None = None


def dave_channel() -> DaveChannel:
    global _channel
    if _channel is None:
        _channel = DaveChannel()
        _channel.join(RECORDER, ALICE, BOB)
    return _channel


@dataclass
class Listener:
    """The recorder's pipeline on a fake clock, and what it handed to the writer."""

    dave: bool
    mode: str
    out: list[ReceivedFrame] = field(default_factory=list)
    sent: int = 0
    now: float = 1000.0

    keyed: bool = True  # False: datagrams come before the session description (op 4)

    def __post_init__(self) -> None:
        if self.dave:
            decryptor = dave_decryptor(DaveState(lambda: dave_channel().session(RECORDER)))
        else:
            decryptor = DaveDecryptor()  # transport only until a voice connection is attached
        self.pipeline = ReceivePipeline(self.out.append, decryptor, clock=lambda: self.now)
        if self.keyed:
            self.pipeline.set_transport(transport_decryptor(self.mode, KEY))
        self.pipeline.on_speaking(ALICE, SSRCS[ALICE])

    def receive(self, datagram: bytes) -> None:
        self.sent += 1
        self.pipeline.on_datagram(datagram)  # the reader thread's call: an exception here fails the example

    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.pipeline.release_due()

    def finish(self) -> None:
        self.pipeline.flush()
        counters = self.pipeline.counters
        assert counters[DropReason.INTERNAL_ERROR] == 0, dict(counters)
        assert set(counters) <= _drop_reasons(), dict(counters)
        assert self.sent == len(self.out) + counters.total(), (self.sent, len(self.out), dict(counters))
        assert sum(self.pipeline.frames_by_user.values()) == len(self.out)


def _drop_reasons() -> set[str]:
    return {value for name, value in vars(DropReason).items() if name.isupper()}


def payload_for(listener: Listener, user_id: int, opus: bytes) -> bytes:
    """What a member's client puts into the RTP payload: a DAVE frame, or plain Opus in a transport-only call."""
    return dave_channel().encrypt(user_id, opus) if listener.dave else opus


# -- damaged valid datagrams -----------------------------------------------------------------------------------

damage = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2047), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 80)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=64)),
    # V=2 with any X/P/CC bits; or any first byte at all
    st.tuples(st.just("first"), st.one_of(st.integers(0x80, 0xBF), st.integers(0, 255))),
    st.tuples(st.just("type"), st.sampled_from([0x78, 0xF8, 0x00, 0x60, 0x7F, 200, 201, 202, 203, 204, 255])),
    st.tuples(st.just("noise"), st.sampled_from([0, 1, 2, 11, 12, 13, 31, 32, 36, 73, 74, 75, 2048, 2049, MAX_UDP]),
              st.integers(0, 2**32 - 1)),
    st.tuples(st.just("ip_discovery"),),
)


def damaged(datagram: bytes, how: tuple) -> bytes:
    kind, *args = how
    data = bytearray(datagram)
    if not data and kind != "extend":
        return datagram
    if kind == "flip":
        data[args[0] % len(data)] ^= args[1]
    elif kind == "cut":
        del data[len(data) - min(args[0], len(data)) :]
    elif kind == "extend":
        data += args[0]
    elif kind == "first":
        data[0] = args[0]
    elif kind == "type" and len(data) > 1:
        data[1] = args[0]
    elif kind == "noise":
        size, seed = args
        noise = random.Random(seed).randbytes(size)
        return datagram[:12] + noise[12:] if seed % 2 else noise  # half keep a plausible RTP header
    elif kind == "ip_discovery":
        return ip_discovery_response(SSRCS[ALICE], "127.0.0.1", 50000)
    return bytes(data)


senders = st.sampled_from([ALICE, ALICE, BOB, None])
event = st.one_of(
    st.tuples(st.just("send"), senders, st.just([])),
    st.tuples(st.just("send"), senders, st.lists(damage, min_size=1, max_size=3)),
    st.tuples(st.just("resend"), st.integers(0, 100)),  # the network duplicates an earlier datagram
    st.tuples(st.just("op5"), st.sampled_from([ALICE, BOB])),
    st.tuples(st.just("tick"), st.sampled_from([0.05, 0.3, 1.5])),
    st.tuples(st.just("op4"), st.sampled_from(["same key", "new key", "other mode"])),  # a new session description
)


@FUZZ
@given(dave=st.booleans(), mode=st.sampled_from([XCHACHA, AES_GCM]), keyed=st.booleans(),
       events=st.lists(event, min_size=1, max_size=40))
def test_damaged_datagrams_are_delivered_or_counted_and_never_invent_audio(dave, mode, keyed, events) -> None:
    listener = Listener(dave, mode, keyed=keyed)
    senders = {ALICE: Sender(mode, KEY, SSRCS[ALICE]), BOB: Sender(mode, KEY, SSRCS[BOB]),
               None: Sender(mode, KEY, STRANGER_SSRC)}
    history: list[bytes] = []
    genuine: dict[tuple[int, int], bytes] = {}  # (ssrc, sequence) -> the Opus frame really sent
    for index, (kind, *args) in enumerate(events):
        if kind == "send":
            user, damages = args
            sender = senders[user]
            opus = FRAMES[index % len(FRAMES)]
            genuine.setdefault((sender.ssrc, sender.sequence), opus)
            datagram = sender.datagram(payload_for(listener, user or ALICE, opus))
            for how in damages:
                datagram = damaged(datagram, how)
            history.append(datagram)
            listener.receive(datagram)
        elif kind == "resend" and history:
            listener.receive(history[args[0] % len(history)])
        elif kind == "op5":
            listener.pipeline.on_speaking(args[0], SSRCS[args[0]])
        elif kind == "tick":
            listener.tick(args[0])
        elif kind == "op4":
            other = {XCHACHA: AES_GCM, AES_GCM: XCHACHA}[mode]
            key = bytes(reversed(KEY)) if args[0] == "new key" else KEY
            listener.pipeline.set_transport(transport_decryptor(other if args[0] == "other mode" else mode, key))
    listener.finish()
    for frame in listener.out:
        assert frame.opus == genuine.get((frame.ssrc, frame.sequence)), "damage became audio"


# -- authentic datagrams with odd contents -----------------------------------------------------------------------


LIES = ("version", "padding bit", "no padding bit", "extension bit", "extension length", "extension profile",
        "csrcs", "payload type", "padding count", "damaged frame", "truncated frame", "plain frame", "noise frame",
        "silence", "empty frame", "magic only")


@dataclass(frozen=True)
class Crafted:
    """One RTP packet sealed with the real key: honest except for its ``lies``, each tuned by ``amount``."""

    lies: frozenset[str]
    amount: int
    extension: bytes
    padding: int
    ssrc: int


crafted = st.builds(
    Crafted,
    lies=st.frozensets(st.sampled_from(LIES), max_size=2),
    amount=st.integers(0, 0xFFFF),
    extension=st.sampled_from([b"", b"\x10\x01\x02\x03", b"\x51\x00\x00\x00" * 3]),
    padding=st.sampled_from([0, 0, 1, 4, 255]),
    ssrc=st.sampled_from([SSRCS[ALICE], SSRCS[ALICE], SSRCS[BOB], STRANGER_SSRC]),
)


def seal_crafted(listener: Listener, packet: Crafted, sequence: int, counter: int, opus: bytes) -> bytes:
    lies, amount = packet.lies, packet.amount
    user = next((user for user, ssrc in SSRCS.items() if ssrc == packet.ssrc), ALICE)
    frame = bytearray(payload_for(listener, user, opus))
    if "damaged frame" in lies:
        frame[amount % len(frame)] ^= 0x5A
    if "truncated frame" in lies:
        del frame[amount % len(frame) :]
    for lie, replacement in (("plain frame", opus), ("noise frame", random.Random(amount).randbytes(amount % 300)),
                             ("silence", SILENCE_FRAME), ("empty frame", b""), ("magic only", b"\xfa\xfa")):
        if lie in lies:
            frame = bytearray(replacement)
    padding = bytes(max(packet.padding - 1, 0)) + bytes([packet.padding]) if packet.padding else b""
    if "padding count" in lies and padding:
        padding = padding[:-1] + bytes([amount & 0xFF])
    padded = bool(padding) != ("padding bit" in lies or "no padding bit" in lies)
    extended = bool(packet.extension) != ("extension bit" in lies)
    csrcs = amount % 16 if "csrcs" in lies else 0
    version = amount % 4 if "version" in lies else 2
    first = version << 6 | padded << 5 | extended << 4 | csrcs
    payload_type = (200 + amount % 5, 0x60, 0xF8, amount & 0xFF)[amount % 4] if "payload type" in lies else 0x78
    header = struct.pack(">BBHII", first, payload_type, sequence, sequence * 960, packet.ssrc)
    header += bytes(range(4 * csrcs))
    if extended:
        words = amount if "extension length" in lies else len(packet.extension) // 4
        profile = amount if "extension profile" in lies else 0xBEDE
        header += struct.pack(">HH", profile, words)
    return seal(listener.mode, KEY, header, packet.extension + bytes(frame) + padding, counter)


def sent_payload(mode: str, datagram: bytes) -> bytes | None:
    """What an honest reading of the datagram finds as its payload (the simulator's own RTP code), or None."""
    try:
        packet = decrypt_packet(mode, KEY, datagram)
    except TransportError:
        return None
    return packet.payload if packet.payload_type == 0x78 else None


@FUZZ
@given(dave=st.booleans(), mode=st.sampled_from([XCHACHA, AES_GCM]), packets=st.lists(crafted, min_size=1, max_size=25),
       map_bob_after=st.integers(0, 30))
def test_authentic_packets_with_lying_headers_are_delivered_or_counted(dave, mode, packets, map_bob_after) -> None:
    listener = Listener(dave, mode)
    genuine: dict[tuple[int, int], bytes] = {}
    read_as: dict[tuple[int, int], bytes | None] = {}
    for index, packet in enumerate(packets):
        if index == map_bob_after:
            listener.pipeline.on_speaking(BOB, SSRCS[BOB])
        sequence = 1000 + index
        opus = FRAMES[index % len(FRAMES)]
        datagram = seal_crafted(listener, packet, sequence, counter=index + 1, opus=opus)
        genuine[(packet.ssrc, sequence)] = opus
        read_as[(packet.ssrc, sequence)] = sent_payload(mode, datagram)
        listener.receive(datagram)
        if index % 7 == 6:
            listener.tick(0.3)
    listener.pipeline.on_speaking(BOB, SSRCS[BOB])
    listener.finish()
    for frame in listener.out:
        key = (frame.ssrc, frame.sequence)
        if dave:
            assert frame.opus == genuine[key], "a damaged DAVE frame became audio"
        else:  # transport-only: the payload is whatever the client sent, read the way the RTP spec says
            assert frame.opus == read_as[key], (frame, read_as[key])


# -- what the fuzz found ----------------------------------------------------------------------------------------


def test_packets_of_a_sender_never_named_by_op5_are_counted_when_the_recording_ends() -> None:
    """Found by the fuzz: they sat in the op 5 buffer and vanished at flush, in no drop counter."""
    listener = Listener(dave=False, mode=XCHACHA)
    stranger = Sender(XCHACHA, KEY, STRANGER_SSRC)
    for opus in FRAMES[:3]:
        listener.receive(stranger.datagram(opus))
    assert listener.pipeline.counters.total() == 0  # held, waiting for an op 5
    listener.finish()
    assert listener.out == []
    assert listener.pipeline.counters == {DropReason.EARLY_EXPIRED: 3}
