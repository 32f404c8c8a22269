"""Places one speaker's packets on the recording's timeline, filling the gaps with silence.

Like Craig's cooker, it trusts the arrival granule to say where a burst of speech starts; inside a burst the RTP
timestamps say which packets are back to back (so network jitter does not add silence) and how much audio a loss
removed. A burst's start is the earliest of its first packets' arrivals, each less its RTP offset into the burst,
so the first packet's own network delay does not shift the whole burst. Packets are never dropped: if arrival runs
behind the audio already placed, the packet goes right after.
"""

from __future__ import annotations

from collections.abc import Iterator

from pandora_recorder.cook.opus_packet import SILENCE_STEP, concealment, packet_samples, silence

# RTP placement is trusted while arrival agrees with it: arrival later than RTP predicts by more than 5 frames
# (Craig's threshold) starts a new burst - clients whose RTP clock stops during silence look like this; arrival
# earlier by more than half a second means the RTP clock jumped (new SSRC after a reconnect).
LATE_SLACK = 4_800
EARLY_SLACK = 24_000
# Longer holes than this inside a burst are silence: concealment would only fade out anyway.
MAX_CONCEALED = 9_600
# Packets of a new burst held back to find its start (200 ms of 20 ms packets).
LOOKAHEAD = 10
_RTP_MODULO = 1 << 32

Placed = tuple[bytes, int]  # (Opus packet, samples)


class TrackTimeline:
    """Feed a track's packets in recorded order with `place`; write what it yields, then what `finish` yields."""

    def __init__(self) -> None:
        self.position = 0  # samples handed out so far, from the recording start
        self.invalid_packets = 0
        self._next_rtp: int | None = None
        self._last_toc = 0xF8
        # A burst being held back: its packets (concealment included), its length and its start estimate.
        self._held: list[Placed] = []
        self._held_samples = 0
        self._anchor = 0

    def place(self, packet: bytes, arrival: int, rtp: int | None) -> Iterator[Placed]:
        samples = packet_samples(packet)
        if not samples:
            self.invalid_packets += 1
            return
        # Where this packet would start if it belongs to the current burst, relative to the burst's start.
        offset = self._held_samples if self._held else self.position
        base = self._anchor if self._held else 0
        same_burst = False
        if rtp is not None and self._next_rtp is not None:
            expected = offset + (rtp - self._next_rtp) % _RTP_MODULO
            same_burst = -EARLY_SLACK <= arrival - (base + expected) <= LATE_SLACK
        if same_burst:
            lost = self._gap_fill(expected - offset)
            if self._held:
                self._held += lost
                self._held_samples = expected + samples
                self._held.append((packet, samples))
                self._anchor = min(self._anchor, arrival - expected)
                if len(self._held) >= LOOKAHEAD:
                    yield from self._release()
            else:
                for item in lost:
                    self.position += item[1]
                    yield item
                self.position += samples
                yield packet, samples
        else:
            yield from self._release()
            self._held = [(packet, samples)]
            self._held_samples = samples
            self._anchor = arrival
        self._next_rtp = None if rtp is None else (rtp + samples) % _RTP_MODULO
        self._last_toc = packet[0]

    def finish(self, end: int | None = None) -> Iterator[Placed]:
        """Place what is held back, then silence up to `end` (to 2.5 ms)."""
        yield from self._release()
        if end is not None:
            yield from self.fill_to(end)

    def _gap_fill(self, gap: int) -> list[Placed]:
        """What goes into a hole inside a burst. Short holes are lost packets, which the decoder conceals from
        its state (a silence frame would reset it and mute the packets that follow); long ones are silence."""
        if gap > MAX_CONCEALED:
            return [(frame, packet_samples(frame)) for frame in silence(gap)]
        lost_packet = concealment(self._last_toc)
        length = packet_samples(lost_packet)
        count, rest = divmod(gap, length)
        return [(lost_packet, length)] * count + [(frame, packet_samples(frame)) for frame in silence(rest)]

    def _release(self) -> Iterator[Placed]:
        if not self._held:
            return
        held, self._held = self._held, []
        yield from self.fill_to(self._anchor)
        for item in held:
            self.position += item[1]
            yield item
        self._held_samples = 0

    def fill_to(self, target: int) -> Iterator[Placed]:
        """Silence from the current position up to `target` (to 2.5 ms)."""
        if target - self.position < SILENCE_STEP:
            return
        for frame in silence(target - self.position):
            length = packet_samples(frame)
            self.position += length
            yield frame, length
