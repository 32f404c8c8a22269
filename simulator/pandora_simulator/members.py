"""Simulated people: they join voice, speak a tone of their own, type messages and invoke slash commands."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pandora_simulator.audio import FRAME_SECONDS, ToneEncoder, tone_for
from pandora_simulator.logs import log
from pandora_simulator.rtp import SILENCE_FRAME

if TYPE_CHECKING:
    from pandora_simulator.interactions import SimInteraction
    from pandora_simulator.model import SimBot, SimChannel, SimGuild, SimUser
    from pandora_simulator.voice_room import SimulatedParticipant


@dataclass(eq=False)
class SimMember:
    """A person in a guild. ``index`` (order of creation) picks the tone: 300 Hz, 400 Hz, 500 Hz, ..."""

    user: SimUser
    guild: SimGuild
    index: int
    received_audio: dict[int, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    undecryptable: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    sent_frames: list[bytes] = field(default_factory=list)
    channel: SimChannel | None = None
    participant: SimulatedParticipant | None = None
    dave: Any = None  # the member's DAVE participant while in a DAVE call (see pandora_simulator.dave_bridge)
    _encoder: ToneEncoder | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"member:{self.guild.name}:{self.index}")

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def tone_hz(self) -> float:
        return tone_for(self.index)

    @property
    def dave_session(self) -> Any:
        """The member's ``davey.DaveSession`` while in a DAVE call (None otherwise)."""
        return getattr(self.dave, "session", None)

    # --- voice ------------------------------------------------------------------------------------------------

    async def join_voice(self, channel: SimChannel) -> None:
        await self.guild.simulator.member_joins_voice(self, channel)

    async def leave_voice(self) -> None:
        await self.guild.simulator.member_leaves_voice(self)

    async def move_voice(self, channel: SimChannel) -> None:
        await self.guild.simulator.member_joins_voice(self, channel)

    async def speak(self, seconds: float = 1.0, *, realtime: bool = True, silence_frames: int = 0) -> list[bytes]:
        """Send ``seconds`` of this member's tone as 20 ms Opus frames; returns the plaintext frames sent.

        ``realtime`` paces frames every 20 ms as a real client does; otherwise they go out back to back (with a
        yield every few frames). ``silence_frames`` appends that many ``F8 FF FE`` frames, as clients do when they
        stop talking. Waits for the member's DAVE session first when the call uses DAVE.
        """
        if self.participant is None or self.channel is None:
            raise RuntimeError(f"{self.name} is not in a voice channel")
        room = self.guild.simulator.voice.room(self.channel.id)
        await self.guild.simulator.voice.wait_member_can_send(self)
        if self._encoder is None:
            self._encoder = ToneEncoder(self.tone_hz)
        await room.announce_speaker(self.participant)
        count = max(1, round(seconds / FRAME_SECONDS))
        frames: list[bytes] = []
        start = time.monotonic()
        for number in range(count + silence_frames):
            if self.participant is None:
                break  # left mid-sentence
            # Encoded just in time, so a real-time speaker starts at once.
            frame = self._encoder.next_frame() if number < count else SILENCE_FRAME
            payload = self.encrypt_frame(frame)
            room.send_from_simulated(self.participant, payload)
            if number < count:
                frames.append(frame)
                self.sent_frames.append(frame)
            if realtime:
                delay = start + (number + 1) * FRAME_SECONDS - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif number % 5 == 4:
                await asyncio.sleep(0.001)
        if self.participant is not None:
            room.flush_faults(self.participant.ssrc)
        log.debug("member spoke", member=self.name, frames=len(frames))
        return frames

    def encrypt_frame(self, frame: bytes) -> bytes:
        if self.dave is not None and self.dave.ready:
            return bytes(self.dave.encrypt_opus(frame))
        return frame  # alone in the call, or mid re-key: what a client without keys sends

    def receive_frame(self, sender_id: int, payload: bytes) -> None:
        """A frame another participant sent (DAVE layer intact): decrypt it the way a real client would."""
        if self.dave is None or self.dave.session is None:
            self.received_audio[sender_id].append(payload)
            return
        try:
            plain = self.dave.decrypt(sender_id, payload)
        except (ValueError, RuntimeError):
            self.undecryptable[sender_id] += 1
            return
        self.received_audio[sender_id].append(bytes(plain))

    # --- text --------------------------------------------------------------------------------------------------

    async def send_message(self, channel: SimChannel, content: str) -> dict[str, Any]:
        """Post a message as this member; bots in the guild get MESSAGE_CREATE."""
        return await self.guild.simulator.member_sends_message(self, channel, content)

    async def invoke_slash_command(
        self, bot: SimBot, name: str, options: dict[str, Any] | None = None, *, channel: SimChannel
    ) -> SimInteraction:
        """Invoke ``/name`` of ``bot`` in ``channel``; await ``.wait_response()`` on the result for the answer."""
        return await self.guild.simulator.interactions.invoke(self.user, bot, name, options or {}, channel)
