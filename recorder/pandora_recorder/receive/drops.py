"""Why a datagram did not become a recorded frame, and how often each reason happened."""

from __future__ import annotations

from collections import Counter


class Drop(Exception):
    """Raised by a pipeline step to say the datagram stops here; ``reason`` is a ``DropReason`` value."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DropReason:
    """Every reason the pipeline drops a datagram (the keys of ``DropCounters``)."""

    SHORT = "short"  # shorter than an RTP header or the AEAD overhead
    IP_DISCOVERY = "ip_discovery"  # 74-byte IP discovery reply
    NOT_RTP = "not_rtp"  # RTP version is not 2
    RTCP = "rtcp"  # RTCP sender/receiver reports (payload types 200-204)
    PAYLOAD_TYPE = "payload_type"  # an RTP payload type other than Opus (0x78)
    NO_KEY = "no_key"  # arrived before the session description (op 4) gave us a key
    TRANSPORT_AUTH = "transport_auth"  # transport decryption failed (forged, corrupt or wrong key)
    BAD_EXTENSION = "bad_extension"  # the header extension is longer than the payload
    BAD_PADDING = "bad_padding"  # padding count of zero or longer than the payload
    DUPLICATE = "duplicate"  # same SSRC and RTP sequence already seen
    EARLY_OVERFLOW = "early_overflow"  # unmapped-SSRC buffer full before op 5 arrived
    EARLY_EXPIRED = "early_expired"  # buffered before op 5, never mapped: evicted for a newer SSRC, or left at the end
    DAVE_NOT_READY = "dave_not_ready"  # end-to-end encrypted frame while our DAVE group is not ready
    DAVE_PLAIN_REFUSED = "dave_plain_refused"  # plain frame while DAVE is required and passthrough is off
    DAVE_FAILED = "dave_failed"  # davey refused the frame (no key for the sender yet, replay, corrupt)
    SILENCE = "silence"  # the Opus silence frame F8 FF FE: nothing is written for silence
    EMPTY = "empty"  # no Opus bytes left after stripping
    INTERNAL_ERROR = "internal_error"  # a bug or an unexpected library error; logged once


class DropCounters(Counter[str]):
    """Counts per ``DropReason``; incremented on the socket reader thread, read anywhere (GIL-atomic)."""

    def total(self) -> int:
        return sum(self.values())
