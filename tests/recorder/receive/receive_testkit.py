"""Helpers for receive tests: real Opus frames from libopus and real rtpsize datagrams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pandora_recorder.receive import DaveDecryptor
from pandora_simulator.audio import ToneEncoder
from pandora_simulator.rtp import RtpPacket, encrypt_packet

SAMPLES_PER_FRAME = 960  # 20 ms at 48 kHz


def opus_frames(count: int, frequency: float = 440.0) -> list[bytes]:
    """``count`` consecutive 20 ms Opus frames of a sine tone, encoded by libopus (the simulator's encoder)."""
    encoder = ToneEncoder(frequency)
    return [encoder.next_frame() for _ in range(count)]


class DaveState:
    """The voice connection's DAVE side, as the decryptor reads it (``receive.DaveConnection``): the session
    ``session_of`` returns now, the call's protocol version, and how often the decryptor asked for a new key."""

    def __init__(self, session_of: Callable[[], Any] = lambda: None, protocol_version: int = 1) -> None:
        self._session_of = session_of
        self.protocol_version = protocol_version
        self.rekeys = 0

    def davey_session(self) -> Any:
        return self._session_of()

    def dave_version(self) -> int:
        return self.protocol_version

    def on_dave_failure(self) -> None:
        self.rekeys += 1


def dave_decryptor(state: DaveState, **tuning: Any) -> DaveDecryptor:
    """A decryptor attached to ``state``, as the recorder session attaches one to its voice client."""
    decryptor = DaveDecryptor(**tuning)
    decryptor.attach(state)
    return decryptor


class Sender:
    """One RTP sender: numbers its packets and seals them like a Discord client."""

    def __init__(self, mode: str, key: bytes, ssrc: int, *, sequence: int = 0, timestamp: int = 0) -> None:
        self.mode = mode
        self.key = key
        self.ssrc = ssrc
        self.sequence = sequence
        self.timestamp = timestamp
        self.counter = 0

    def datagram(self, payload: bytes, *, extension: bytes = b"", padding: int = 0) -> bytes:
        packet = RtpPacket(
            sequence=self.sequence, timestamp=self.timestamp, ssrc=self.ssrc, payload=payload,
            extension=extension, padding=padding,
        )
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + SAMPLES_PER_FRAME) & 0xFFFFFFFF
        self.counter += 1
        return encrypt_packet(self.mode, self.key, packet, self.counter)


class DaveChannel:
    """A real DAVE group: the simulator's gateway role plus ``davey`` sessions for every member."""

    def __init__(self, channel_id: int = 5555) -> None:
        from pandora_simulator.dave import DaveChannelGroup

        self.group = DaveChannelGroup(channel_id)
        self.channel_id = channel_id
        self.members: dict = {}
        self.lagging: set[int] = set()  # members whose gateway messages are held back until catch_up()
        self._delayed: list = []

    def catch_up(self) -> None:
        """Deliver the messages held back for lagging members (their websocket was slow)."""
        delayed, self._delayed = self._delayed, []
        self.lagging.clear()
        self._pump(delayed)

    def _pump(self, outgoing: list) -> None:
        queue = list(outgoing)
        while queue:
            message = queue.pop(0)
            if message.user_id in self.lagging:
                self._delayed.append(message)
                continue
            member = self.members.get(message.user_id)
            if member is None:
                continue
            for opcode, payload in member.handle(message.opcode, message.payload):
                queue.extend(self.group.receive(message.user_id, opcode, payload))

    def join(self, *user_ids: int) -> None:
        """Members join (as the voice gateway would add them) and every pending transition executes."""
        from pandora_simulator.dave import SimulatedDaveMember

        for user_id in user_ids:
            member = self.members[user_id] = SimulatedDaveMember(user_id, self.channel_id)
            replies = member.handle(4, {"dave_protocol_version": self.group.protocol_version})
            self._pump(self.group.connect(user_id))
            for opcode, payload in replies:
                self._pump(self.group.receive(user_id, opcode, payload))
        self._pump(self.group.execute_pending_transition())

    def leave(self, user_id: int) -> None:
        del self.members[user_id]
        self._pump(self.group.disconnect(user_id))
        self._pump(self.group.execute_pending_transition())

    def session(self, user_id: int):
        return self.members[user_id].session

    def encrypt(self, user_id: int, opus: bytes) -> bytes:
        return self.members[user_id].encrypt_opus(opus)
