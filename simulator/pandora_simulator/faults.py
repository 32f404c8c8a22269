"""Network faults applied to the RTP the simulator sends toward real clients, reproducibly from a seed.

Each (receiver, sender) stream draws from its own ``random.Random`` seeded with the plan's seed and both SSRCs
(SSRCs are handed out in join order), so the same scenario yields the same drops, duplicates and swaps every run.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field, replace

from pandora_simulator.rtp import SILENCE_FRAME, RtpPacket


@dataclass(frozen=True)
class FaultPlan:
    """What to do to packets sent to connected real clients in a voice channel.

    loss / reorder / duplicate are per-packet probabilities; jitter_ms delays each packet by up to that much;
    rtp_extensions and padding decorate every packet (one-byte-header extension, 1..16 padding bytes);
    rtcp sends an RTCP sender report about once a second per stream; early_packets holds back the op 5 SPEAKING
    that maps a new speaker's SSRC to its user until ``early_ms`` after its first packet went out.
    """

    loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    jitter_ms: float = 0.0
    rtp_extensions: bool = False
    padding: bool = False
    rtcp: bool = False
    early_packets: bool = False
    early_ms: float = 60.0
    seed: int = 0

    def injector(self, receiver_ssrc: int, sender_ssrc: int) -> FaultInjector:
        return FaultInjector(self, random.Random(f"{self.seed}:{receiver_ssrc}:{sender_ssrc}"))


RTCP_INTERVAL_PACKETS = 50  # one report per second of 20 ms frames


@dataclass
class FaultInjector:
    """Turns each outgoing packet into zero or more (delay, packet) sends; holds one packet back to reorder."""

    plan: FaultPlan
    rng: random.Random
    held: RtpPacket | None = None
    sent: int = 0
    # "silence lost": of the "lost", the silence frames (they pass DAVE in the clear, so the SFU can tell)
    stats: dict[str, int] = field(default_factory=lambda: {"lost": 0, "silence lost": 0, "reordered": 0,
                                                           "duplicated": 0, "rtcp": 0})

    def process(self, packet: RtpPacket) -> list[tuple[float, RtpPacket]]:
        plan = self.plan
        # Draw every decision for every packet, whether or not it applies, so one knob does not shift the others.
        lose, swap, double = self.rng.random(), self.rng.random(), self.rng.random()
        delay = self.rng.uniform(0.0, plan.jitter_ms / 1000.0) if plan.jitter_ms else 0.0
        pad = self.rng.randint(1, 16)
        level = self.rng.randint(0, 127)
        if plan.rtp_extensions:
            # RFC 8285 one-byte header: element id 1 (audio level), 1 data byte, zero padded to a 32-bit word.
            packet = replace(packet, extension=bytes([0x10, 0x80 | level, 0, 0]))
        if plan.padding:
            packet = replace(packet, padding=pad)
        if lose < plan.loss:
            self.stats["lost"] += 1
            self.stats["silence lost"] += packet.payload == SILENCE_FRAME
            return []
        if self.held is None and swap < plan.reorder:
            self.stats["reordered"] += 1
            self.held = packet
            return []
        sends = [(delay, packet)]
        if double < plan.duplicate:
            self.stats["duplicated"] += 1
            sends.append((delay, packet))
        if self.held is not None:
            sends.append((delay, self.held))
            self.held = None
        return sends

    def flush(self) -> list[tuple[float, RtpPacket]]:
        """Release a packet held back for reordering (end of a burst)."""
        held, self.held = self.held, None
        return [] if held is None else [(0.0, held)]

    def rtcp_due(self) -> bool:
        self.sent += 1
        if self.plan.rtcp and self.sent % RTCP_INTERVAL_PACKETS == 1:
            self.stats["rtcp"] += 1
            return True
        return False


def rtcp_sender_report(ssrc: int, rtp_timestamp: int, packet_count: int) -> tuple[bytes, bytes]:
    """(clear 8-byte header, sender info to encrypt) of an RTCP SR (RFC 3550 6.4.1) with no report blocks."""
    header = struct.pack(">BBHI", 0x80, 200, 6, ssrc)
    sender_info = struct.pack(">QIII", 0, rtp_timestamp & 0xFFFFFFFF, packet_count, packet_count * 100)
    return header, sender_info
