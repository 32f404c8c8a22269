"""Just enough of RFC 6716 §3.1 to know how long an Opus packet plays and to make silence.

Hand-written: it is a table lookup on the TOC byte, and the cooker must tolerate odd packets rather than stop
on the error a libopus call would raise.
"""

from __future__ import annotations

# Samples at 48 kHz per frame for TOC configs 0-31 (SILK 10/20/40/60 ms, hybrid 10/20, CELT 2.5/5/10/20).
_FRAME_SAMPLES = (
    [480, 960, 1920, 2880] * 3 + [480, 960] * 2 + [120, 240, 480, 960] * 4
)
_MAX_PACKET_SAMPLES = 5760  # 120 ms, the RFC's limit

# CELT-only, fullband, mono, one frame, with the silence payload Discord and Craig use (F8 FF FE is 20 ms).
SILENCE_FRAMES = {960: b"\xf8\xff\xfe", 480: b"\xf0\xff\xfe", 240: b"\xe8\xff\xfe", 120: b"\xe0\xff\xfe"}
SILENCE_STEP = 120


def packet_samples(packet: bytes) -> int:
    """Samples at 48 kHz that `packet` decodes to, or 0 when it is not a valid Opus packet."""
    if not packet:
        return 0
    toc = packet[0]
    per_frame = _FRAME_SAMPLES[toc >> 3]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(packet) < 2:
        return 0
    else:
        frames = packet[1] & 0x3F
    samples = per_frame * frames
    return samples if 0 < samples <= _MAX_PACKET_SAMPLES else 0


def silence(samples: int) -> list[bytes]:
    """Silence packets covering `samples` rounded down to 2.5 ms, longest frames first."""
    packets: list[bytes] = []
    for size in (960, 480, 240, 120):
        count, samples = divmod(samples, size)
        packets.extend([SILENCE_FRAMES[size]] * count)
    return packets


def concealment(toc: int) -> bytes:
    """A TOC-only packet (one empty frame) with the configuration of `toc`: decoders treat it as a lost frame
    of that length and conceal it from their state, as after real packet loss (RFC 6716 §3.2.1)."""
    return bytes((toc & 0xFC,))
