"""A simulated member's speech: its tone as real-time (or back-to-back) 20 ms Opus frames into its call."""

from __future__ import annotations

import asyncio
import time

from pandora_simulator.audio import FRAME_SECONDS, ToneEncoder
from pandora_simulator.logs import log
from pandora_simulator.model import SimMember
from pandora_simulator.rtp import SILENCE_FRAME
from pandora_simulator.voice_server import VoiceServer

REAL_CLIENT_SILENCE_FRAMES = 5  # what Discord clients send when a burst of speech ends


def with_trailing_silence(frames: list[bytes], silence_frames: int = REAL_CLIENT_SILENCE_FRAMES) -> list[bytes]:
    """What a receiver gets for one ``speak()`` that returned ``frames``: the speech, then the silence after it."""
    return [*frames, *[SILENCE_FRAME] * silence_frames]


async def speak(voice: VoiceServer, member: SimMember, seconds: float, *, realtime: bool, silence_frames: int
                ) -> list[bytes]:
    """What :meth:`SimMember.speak` does; returns the plaintext frames sent (the silence frames not counted)."""
    seat = voice.seat_of(member)
    if seat is None:
        raise RuntimeError(f"{member.name} is not in a voice channel")
    room, participant = seat
    await voice.wait_member_can_send(member)
    if member.encoder is None:
        member.encoder = ToneEncoder(member.tone_hz)
    await room.announce_speaker(participant)
    count = max(1, round(seconds / FRAME_SECONDS))
    frames: list[bytes] = []
    start = time.monotonic()
    for number in range(count + silence_frames):
        if room.simulated.get(member.id) is not participant:
            break  # left mid-sentence
        # Encoded just in time, so a real-time speaker starts at once.
        frame = member.encoder.next_frame() if number < count else SILENCE_FRAME
        room.send_from_simulated(participant, member.encrypt_frame(frame))
        if number < count:
            frames.append(frame)
            member.sent_frames.append(frame)
        if realtime:
            delay = start + (number + 1) * FRAME_SECONDS - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif number % 5 == 4:
            await asyncio.sleep(0.001)
    if room.simulated.get(member.id) is participant:
        room.flush_faults(participant.ssrc)
    log.debug("member spoke", member=member.name, frames=len(frames))
    return frames
