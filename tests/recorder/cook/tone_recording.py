"""Real recordings for the cook tests: libopus-encoded sine tones written through the raw writer."""

from __future__ import annotations

import math
import random
import struct
from dataclasses import dataclass
from pathlib import Path

import discord.opus

from pandora_recorder.frames import ReceivedFrame, Speaker
from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.sinks import LocalFolderSink

RATE = 48_000
FRAME = 960  # 20 ms


@dataclass(frozen=True)
class Voice:
    user_id: int
    username: str
    tone: float  # Hz
    bursts: tuple[tuple[float, float], ...]  # (start, end) seconds of speech, what the cook must reproduce
    lost: tuple[float, ...] = ()  # start times of packets that never arrived
    rtp_runs_through_silence: bool = True  # False: RTP continues back to back after a pause (discord.py)


ALICE = Voice(101, "alice", 440.0, ((0.30, 1.30), (2.00, 2.60)), rtp_runs_through_silence=False)
# Bob starts late and loses 100 ms in the middle: the cook must keep his later speech at its true time.
BOB = Voice(202, "bob", 1000.0, ((0.80, 1.90),), lost=(1.20, 1.22, 1.24, 1.26, 1.28))


@dataclass(frozen=True)
class Recording:
    folder: Path
    recording_id: int
    voices: tuple[Voice, ...]
    end: float  # seconds, the last speech end


def _frames(voice: Voice, rng: random.Random) -> list[tuple[float, int, bytes]]:
    """(send time, RTP timestamp, Opus packet) per 20 ms of the voice's bursts."""
    encoder = discord.opus.Encoder()
    rtp = rng.randrange(1 << 32)
    out: list[tuple[float, int, bytes]] = []
    previous_end: float | None = None
    for start, end in voice.bursts:
        if previous_end is not None and voice.rtp_runs_through_silence:
            rtp += round((start - previous_end) * RATE)
        count = round((end - start) * RATE / FRAME)
        for index in range(count):
            t0 = start + index * FRAME / RATE
            samples = []
            for n in range(FRAME):
                value = int(0.3 * 32767 * math.sin(2 * math.pi * voice.tone * (t0 + n / RATE)))
                samples += (value, value)
            packet = encoder.encode(struct.pack(f"<{2 * FRAME}h", *samples), FRAME)
            if not any(abs(t0 - lost) < 1e-6 for lost in voice.lost):
                out.append((t0, rtp % (1 << 32), packet))
            rtp += FRAME
        previous_end = end
    return out


def record(folder: Path, recording_id: int, voices: tuple[Voice, ...], jitter: float = 0.015) -> Recording:
    rng = random.Random(recording_id)
    names = {voice.user_id: voice.username for voice in voices}
    sink = LocalFolderSink(folder)
    writer = RawRecordingWriter(
        sink, lambda user: Speaker(user, names[user].title(), names[user]), recording_id=recording_id
    )
    # arrival = send time + network jitter. The receive pipeline's reorder window hands each speaker's packets
    # over in RTP order (keeping their arrival stamps), so a packet is released once it and all before it came.
    frames = []
    for voice in voices:
        released = 0.0
        for index, (t0, rtp, packet) in enumerate(_frames(voice, rng)):
            arrival = t0 + rng.uniform(0, jitter)
            released = max(released, arrival)
            frames.append((released, voice.user_id, index, arrival, rtp, packet))
    frames.sort()
    with writer:
        for _released, user, index, arrival, rtp, packet in frames:
            writer.submit(ReceivedFrame(user, user, index, rtp, packet, writer.start_monotonic + arrival))
    sink.close()
    end = max(burst[1] for voice in voices for burst in voice.bursts)
    return Recording(folder, recording_id, voices, end)
