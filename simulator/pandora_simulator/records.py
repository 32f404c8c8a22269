"""What clients did, as the simulator saw it: the log tests and demos assert against."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClientMessage:
    """A channel message a bot created or edited over REST (``action`` is "create" or "edit"); ``reply_to`` is the
    message it answers, if any."""

    action: str
    message_id: int
    channel_id: int
    author_id: int
    content: str
    embeds: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    reply_to: int | None = None


@dataclass(frozen=True)
class InteractionResponse:
    """A bot's answer to an interaction: "callback" (with Discord's callback ``type``), "followup" or
    "edit_original"."""

    action: str
    interaction_id: int
    command: str
    channel_id: int
    author_id: int
    content: str
    type: int | None = None
    ephemeral: bool = False
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VoiceStateRequest:
    """A gateway op 4 a bot sent (``channel_id`` None means leave; ``refused`` why it went unanswered, e.g.
    "missing Connect")."""

    user_id: int
    guild_id: int
    channel_id: int | None
    self_mute: bool
    self_deaf: bool
    refused: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class ReceivedAudio:
    """One RTP packet a real client sent, transport-decrypted: ``frame`` still carries the DAVE layer if any."""

    user_id: int
    channel_id: int
    ssrc: int
    sequence: int
    timestamp: int
    frame: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class InvalidSession:
    """An op 9 INVALID_SESSION the gateway sent: ``reason`` "identify_too_soon" (beyond ``max_concurrency`` per
    5 s) or "resume_refused" (unknown or ended session)."""

    bot_id: int
    reason: str
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class TokenReset:
    """A bot ran out of IDENTIFYs: its sessions were closed (4004) and its token replaced."""

    bot_id: int
    sessions_closed: int
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class RateLimitHit:
    """A request the REST API answered 429 (``route`` as ``sim.rate_limit`` names it)."""

    route: str
    path: str
    retry_after: float
    is_global: bool = False
    at: float = field(default_factory=time.monotonic)
