"""Values passed between the receive pipeline and the raw writer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One decrypted Opus packet from one speaker, as read off the voice UDP socket."""

    user_id: int
    ssrc: int
    sequence: int  # RTP sequence
    rtp_timestamp: int  # RTP timestamp (48 kHz)
    opus: bytes  # the decrypted Opus packet, untouched
    arrival: float  # time.monotonic() when the datagram was read


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who a track belongs to; written to the .users file when the track starts."""

    id: int
    name: str
    username: str
    discriminator: str = "0"
    global_name: str | None = None
    bot: bool = False
    avatar_url: str | None = None
