"""An in-process voice channel for DAVE tests: one DaveChannelGroup (the gateway) and simulated members with
real davey sessions, exchanging messages through a FIFO the way a websocket per member would."""

from __future__ import annotations

import asyncio
import math
import random
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from discord import opus

from pandora_simulator.dave import DaveChannelGroup, SimulatedDaveMember

CHANNEL_ID = 1_100_000_000_000_000_001
MAX_MESSAGES = 20_000  # far more than any scenario needs: hitting it means the exchange never settles


@dataclass
class Sent:
    direction: str  # "to_client" or "to_server"
    user_id: int
    opcode: int
    payload: dict[str, Any] | bytes


@dataclass
class LocalVoiceChannel:
    group: DaveChannelGroup
    members: dict[int, SimulatedDaveMember] = field(default_factory=dict)
    log: list[Sent] = field(default_factory=list)
    _queue: deque[Sent] = field(default_factory=deque)

    def join(self, user_id: int) -> SimulatedDaveMember:
        """A member identifies with DAVE support: the gateway sends op 4, then its connect() messages."""
        member = SimulatedDaveMember(user_id, self.group.channel_id)
        self.members[user_id] = member
        self.send_to(user_id, 4, {"dave_protocol_version": self.group.protocol_version})
        self.from_gateway(self.group.connect(user_id))
        return member

    def leave(self, user_id: int) -> SimulatedDaveMember:
        member = self.members.pop(user_id)
        # Its websocket is gone: nothing more reaches it, and nothing it sent is still processed.
        self._queue = deque(m for m in self._queue if m.user_id != user_id)
        self.from_gateway(self.group.disconnect(user_id))
        return member

    def add_client(self, user_id: int, client: Any) -> None:
        """Put a client (anything with an async ``handle(opcode, payload)``, e.g. a discord.py adapter) in the
        channel; the caller delivers its op 4 and calls ``group.connect`` itself, as a voice server would."""
        self.members[user_id] = client

    def pump(
        self, until: Callable[[Sent], bool] | None = None, rng: random.Random | None = None, limit: int | None = None
    ) -> None:
        """Deliver queued messages until nothing is left, or until ``until`` returns True for a message just
        delivered. Replies go to the back. Without ``rng`` everything is delivered in one global order; with it,
        the next message comes from a random stream (one per direction and user), each stream staying in order,
        the way separate websockets interleave. ``limit`` caps the number of messages delivered."""
        for delivered in range(MAX_MESSAGES):
            if not self._queue or (limit is not None and delivered >= limit):
                return
            message = self._pop(rng)
            self._deliver(message, self._replies_of(message))
            if until is not None and until(message):
                return
        raise AssertionError("DAVE message exchange did not settle")

    def _pop(self, rng: random.Random | None) -> Sent:
        if rng is None:
            return self._queue.popleft()
        heads: dict[tuple[str, int], int] = {}
        for index, message in enumerate(self._queue):
            heads.setdefault((message.direction, message.user_id), index)
        index = rng.choice(sorted(heads.values()))
        message = self._queue[index]
        del self._queue[index]
        return message

    async def pump_async(self, until: Callable[[Sent], bool] | None = None) -> None:
        """``pump`` (in one global order) for channels with async clients (their ``handle`` is a coroutine)."""
        for _ in range(MAX_MESSAGES):
            if not self._queue:
                if until is not None:
                    raise AssertionError("the awaited message never came")
                return
            message = self._queue.popleft()
            replies = self._replies_of(message)
            if asyncio.iscoroutine(replies):
                replies = await replies
            self._deliver(message, replies)
            if until is not None and until(message):
                return
        raise AssertionError("DAVE message exchange did not settle")

    def _replies_of(self, message: Sent) -> Any:
        member = self.members.get(message.user_id)
        if message.direction == "to_client" and member is not None:
            return member.handle(message.opcode, message.payload)
        return []

    def _deliver(self, message: Sent, replies: list[tuple[int, Any]]) -> None:
        self.log.append(message)
        if message.direction == "to_client":
            self._queue.extend(Sent("to_server", message.user_id, op, payload) for op, payload in replies)
        else:
            self.from_gateway(self.group.receive(message.user_id, message.opcode, message.payload))

    def send_to(self, user_id: int, opcode: int, payload: dict[str, Any] | bytes) -> None:
        """Queue a gateway message for one client (e.g. its op 4)."""
        self._queue.append(Sent("to_client", user_id, opcode, payload))

    def from_client(self, user_id: int, opcode: int, payload: dict[str, Any] | bytes) -> None:
        """Queue a message a client sent on its own (not as a reply to a gateway message)."""
        self._queue.append(Sent("to_server", user_id, opcode, payload))

    def from_gateway(self, outgoing: list[Any]) -> None:
        self._queue.extend(Sent("to_client", o.user_id, o.opcode, o.payload) for o in outgoing)

    def sent(self, direction: str, opcode: int, user_id: int | None = None) -> list[Sent]:
        return [
            m
            for m in self.log
            if m.direction == direction and m.opcode == opcode and (user_id is None or m.user_id == user_id)
        ]

    def assert_audio_flows(self, tone: Callable[[int], bytes]) -> None:
        """Every member sends one frame; every other member decrypts it to the exact Opus bytes sent."""
        for sender_id, sender in self.members.items():
            frame = tone(sender_id)
            encrypted = sender.encrypt_opus(frame)
            assert encrypted != frame
            for receiver_id, receiver in self.members.items():
                if receiver_id != sender_id:
                    assert receiver.decrypt(sender_id, encrypted) == frame, (sender_id, receiver_id)


@pytest.fixture
def channel() -> LocalVoiceChannel:
    return LocalVoiceChannel(DaveChannelGroup(CHANNEL_ID))


@pytest.fixture
async def bot(channel: LocalVoiceChannel) -> AsyncIterator[Any]:
    """discord.py 2.7.1's own voice websocket and DAVE handling as a client of ``channel`` (not yet joined)."""
    from test_dave_discordpy_flow import BOT, DiscordPyClient  # the adapter lives with the tests that explain it

    client = DiscordPyClient(BOT, channel.group.channel_id)
    yield client
    client.close()


@pytest.fixture(scope="session")
def opus_tone() -> Callable[[int], bytes]:
    """One real 20 ms Opus frame (libopus) of a tone that depends on ``n``."""
    if not opus.is_loaded():
        opus._load_default()
    encoder = opus.Encoder()

    def tone(n: int) -> bytes:
        freq = 200 + 37 * (n % 50)
        samples = (int(6000 * math.sin(2 * math.pi * freq * i / 48000)) for i in range(960))
        pcm = b"".join(struct.pack("<hh", s, s) for s in samples)
        return encoder.encode(pcm, 960)

    return tone
