"""Real Opus audio for simulated speakers: each member hums its own tone, encoded with libopus.

discord.py's ``discord.opus`` binds the system libopus; its encoder is used as is (48 kHz stereo, 20 ms frames),
and its decoder lets tests check which tone a stream carries.
"""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Iterable

import discord.opus

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
BASE_TONE_HZ = 300.0
TONE_STEP_HZ = 100.0

_load_lock = threading.Lock()


def ensure_opus_loaded() -> None:
    with _load_lock:
        if not discord.opus.is_loaded() and not discord.opus._load_default():
            raise RuntimeError("libopus is not available (install libopus0)")


def tone_for(index: int) -> float:
    """The tone of the index-th member of a guild: 300, 400, 500 Hz ... distinct and easy to tell apart."""
    return BASE_TONE_HZ + TONE_STEP_HZ * index


class ToneEncoder:
    """Encodes consecutive 20 ms frames of a continuous sine tone (phase carries over between calls)."""

    def __init__(self, frequency: float, amplitude: float = 0.3) -> None:
        ensure_opus_loaded()
        self.frequency = frequency
        self._encoder = discord.opus.Encoder()
        self._sample = 0
        # One second of stereo PCM: a whole number of periods for whole-Hz tones, so slices of it loop seamlessly.
        step = 2 * math.pi * frequency / SAMPLE_RATE
        scale = 32767 * amplitude
        values: list[int] = []
        for n in range(SAMPLE_RATE):
            value = int(scale * math.sin(step * n))
            values.extend((value, value))
        self._second = struct.pack(f"<{len(values)}h", *values)

    def next_pcm(self) -> bytes:
        start = (self._sample % SAMPLE_RATE) * 4
        self._sample += FRAME_SAMPLES
        chunk = self._second[start:start + FRAME_SAMPLES * 4]
        if len(chunk) < FRAME_SAMPLES * 4:
            chunk += self._second[: FRAME_SAMPLES * 4 - len(chunk)]
        return chunk

    def next_frame(self) -> bytes:
        return self._encoder.encode(self.next_pcm(), FRAME_SAMPLES)


def decode_frames(frames: Iterable[bytes]) -> list[int]:
    """Decode Opus frames to mono samples (the left channel), one decoder across the stream."""
    ensure_opus_loaded()
    decoder = discord.opus.Decoder()
    samples: list[int] = []
    for frame in frames:
        pcm = decoder.decode(frame, fec=False)
        samples.extend(struct.unpack(f"<{len(pcm) // 2}h", pcm)[::2])
    return samples


def _goertzel_power(samples: list[int], frequency: float) -> float:
    # Hand-written (no numpy here): one Goertzel filter is all a tone check needs.
    coefficient = 2 * math.cos(2 * math.pi * frequency / SAMPLE_RATE)
    s_prev = s_prev2 = 0.0
    for sample in samples:
        s = sample + coefficient * s_prev - s_prev2
        s_prev2, s_prev = s_prev, s
    return s_prev2 * s_prev2 + s_prev * s_prev - coefficient * s_prev * s_prev2


def dominant_tone(frames: Iterable[bytes], candidates: Iterable[float] | None = None) -> float:
    """The candidate frequency (default: the first 20 member tones) with the most energy in the decoded frames."""
    samples = decode_frames(frames)
    # Skip the encoder's first frames (pre-skip and ramp-up) when there is enough audio.
    samples = samples[FRAME_SAMPLES * 2:] if len(samples) > FRAME_SAMPLES * 6 else samples
    options = list(candidates) if candidates is not None else [tone_for(i) for i in range(20)]
    return max(options, key=lambda frequency: _goertzel_power(samples, frequency))
