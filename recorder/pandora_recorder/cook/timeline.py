"""Places one speaker's packets on the recording's timeline, filling the gaps with silence.

Like Craig's cooker, it trusts the arrival granule to say where a burst of speech starts; inside a burst the RTP
timestamps say which packets are back to back (so network jitter does not add silence) and how much audio a loss
removed. Packets are never dropped: if arrival runs behind the audio already placed, the packet goes right after.
"""

from __future__ import annotations

from collections.abc import Iterator

from pandora_recorder.cook.opus_packet import SILENCE_STEP, concealment, packet_samples, silence

# RTP placement is trusted while arrival agrees with it: arrival later than RTP predicts by more than 5 frames
# (Craig's threshold) starts a new burst - clients whose RTP clock stops during silence look like this; arrival
# earlier by more than half a second means the RTP clock jumped (new SSRC after a reconnect).
LATE_SLACK = 4_800
EARLY_SLACK = 24_000
_RTP_MODULO = 1 << 32
# Longer holes than this inside a burst are silence: concealment would only fade out anyway.
MAX_CONCEALED = 9_600


class TrackTimeline:
    """Feed a track's packets in recorded order; get (packet, samples) to write, silence included."""

    def __init__(self) -> None:
        self.position = 0  # samples placed so far, from the recording start
        self._next_rtp: int | None = None
        self._last_toc = 0xF8
        self.invalid_packets = 0

    def place(self, packet: bytes, arrival: int, rtp: int | None) -> Iterator[tuple[bytes, int]]:
        samples = packet_samples(packet)
        if not samples:
            self.invalid_packets += 1
            return
        target = arrival
        if rtp is not None and self._next_rtp is not None:
            expected = self.position + (rtp - self._next_rtp) % _RTP_MODULO
            if -EARLY_SLACK <= arrival - expected <= LATE_SLACK:
                # Same burst: back to back, or after lost packets, which the decoder conceals (a silence frame
                # would reset its state and mute the packets that follow).
                yield from self._conceal_to(expected)
                target = expected
        yield from self.fill_to(target)
        self.position += samples
        self._next_rtp = None if rtp is None else (rtp + samples) % _RTP_MODULO
        self._last_toc = packet[0]
        yield packet, samples

    def _conceal_to(self, target: int) -> Iterator[tuple[bytes, int]]:
        lost_packet = concealment(self._last_toc)
        length = packet_samples(lost_packet)
        while self.position + length <= target and target - self.position <= MAX_CONCEALED:
            self.position += length
            yield lost_packet, length

    def fill_to(self, target: int) -> Iterator[tuple[bytes, int]]:
        """Silence from the current position up to `target` (to 2.5 ms)."""
        if target - self.position < SILENCE_STEP:
            return
        for frame in silence(target - self.position):
            length = packet_samples(frame)
            self.position += length
            yield frame, length
