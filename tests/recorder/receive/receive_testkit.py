"""Helpers for receive tests: real Opus frames from libopus and real rtpsize datagrams."""

from __future__ import annotations

import math
import struct

import discord.opus

from pandora_simulator.rtp import RtpPacket, encrypt_packet

SAMPLES_PER_FRAME = 960  # 20 ms at 48 kHz


def opus_frames(count: int, frequency: float = 440.0) -> list[bytes]:
    """``count`` consecutive 20 ms Opus frames of a sine tone, encoded by libopus."""
    encoder = discord.opus.Encoder()
    frames = []
    for index in range(count):
        start = index * SAMPLES_PER_FRAME
        samples = (
            int(8000 * math.sin(2 * math.pi * frequency * (start + i) / 48000)) for i in range(SAMPLES_PER_FRAME)
        )
        pcm = b"".join(struct.pack("<hh", s, s) for s in samples)
        frames.append(encoder.encode(pcm, SAMPLES_PER_FRAME))
    return frames


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
