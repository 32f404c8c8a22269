"""Listening to cooked files in tests: decode with ffmpeg, find where it is loud, measure a tone."""

import math
import struct
import subprocess

RATE = 16_000
WINDOW = 80  # 5 ms


def decode_pcm(path, rate=RATE):
    """The file's audio as mono 16-bit samples, decoded by ffmpeg (Opus with libopus, the reference decoder)."""
    decoder = ["-c:a", "libopus"] if path.suffix == ".opus" else []
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", *decoder, "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"],
        check=True, capture_output=True,
    ).stdout
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def goertzel_power(samples, frequency, rate=RATE):
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for sample in samples:
        s1, s2 = sample + coefficient * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / max(1, len(samples)) ** 2


def active_intervals(samples, threshold=2000, merge_gap=0.040):
    """(start, end) seconds where the signal is loud, joining pauses shorter than merge_gap."""
    intervals: list[list[float]] = []
    for index in range(0, len(samples) - WINDOW + 1, WINDOW):
        window = samples[index : index + WINDOW]
        rms = math.sqrt(sum(v * v for v in window) / WINDOW)
        if rms > threshold:
            start, end = index / RATE, (index + WINDOW) / RATE
            if intervals and start - intervals[-1][1] <= merge_gap:
                intervals[-1][1] = end
            else:
                intervals.append([start, end])
    return [tuple(i) for i in intervals]


CONCEALMENT = 0.060  # libopus fades lost packets out over a few frames instead of cutting to silence


def expected_intervals(voice):
    """(start, end, extra) of what should be heard: speech with a hole where packets were lost; an end at a
    loss may run `extra` seconds long because the decoder conceals the lost packets."""
    pieces = []
    for start, end in voice.bursts:
        cursor = start
        for lost in sorted(voice.lost):
            if start <= lost < end:
                if lost > cursor:
                    pieces.append([cursor, lost, CONCEALMENT])
                cursor = lost + 0.020
        pieces.append([cursor, end, 0.0])
    merged = [pieces[0]]
    for piece in pieces[1:]:
        if piece[0] - merged[-1][1] < 1e-6:
            merged[-1][1:] = piece[1:]
        else:
            merged.append(piece)
    return [tuple(m) for m in merged]
