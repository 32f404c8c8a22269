"""The one interface between the command logic and whatever does the recording: ``Recordings``.

Two implementations: ``pandora_frontdoor.local.LocalRecordings`` records in this process with the recorder
session (``pandora bot``), ``pandora_frontdoor.kube.KubernetesRecordings`` creates, stops and watches
``Recording`` resources (``pandora frontdoor``). The command logic (``desk``) and the pub/sub bridge only see
this module's types, so they cannot tell which one they talk to.

Ids are ``int`` for Discord snowflakes and ``str`` for recording ids (as ``Recording.status.recordingId`` holds
them: 19-digit numbers do not survive JSON numbers, and neither side does arithmetic on them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class Source(Enum):
    """Which front door asked: the values of ``Recording.spec.requestedBy.source``."""

    TEXT_COMMAND = "text-command"
    SLASH_COMMAND = "slash-command"
    PUBSUB = "pubsub"
    KUBECTL = "kubectl"


@dataclass(frozen=True)
class Requester:
    source: Source
    user_id: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class RecordRequest:
    """Record one voice channel.

    ``key`` names the event that asked (a message, an interaction, a pub/sub message): the same key twice is one
    recording, however often the event is delivered.
    """

    key: str
    guild_id: int
    voice_channel_id: int
    requested_by: Requester
    text_channel_id: int | None = None
    max_duration: int | None = None  # seconds


@dataclass(frozen=True)
class ActiveRecording:
    recording_id: str
    key: str
    guild_id: int
    voice_channel_id: int
    requested_by: Requester
    text_channel_id: int | None = None
    started_at: float | None = None  # epoch seconds, when capture began


class StartResult(Enum):
    STARTED = "started"  # audio is being captured
    ALREADY_RECORDING = "already-recording"  # this channel is being recorded: ``recording`` is that one
    GUILD_BUSY = "guild-busy"  # another channel of this guild is recorded and no bot is free: ``recording`` is it
    FAILED = "failed"  # the recorder could not start: ``reason`` says why


@dataclass(frozen=True)
class StartOutcome:
    result: StartResult
    recording: ActiveRecording | None = None
    reason: str = ""
    transient: bool = False  # FAILED for now (a service did not answer): the same request may succeed later


@dataclass(frozen=True)
class Summary:
    """A recording that ended (by a stop, a limit, or a failure)."""

    recording: ActiveRecording
    completed: bool  # False: it failed (the files written so far are kept)
    duration_seconds: float
    speakers: tuple[str, ...]
    location: str  # a local folder, or ``dapr://<binding>/<prefix><id>/`` as ``status.location`` says
    message: str = ""  # why it ended, when not by a stop: a limit, everybody left, a failure


EndListener = Callable[[Summary], Awaitable[None]]


class Recordings(Protocol):
    async def start(self, request: RecordRequest) -> StartOutcome:
        """Start recording; returns once audio is being captured, or with why not. Idempotent per ``key``."""
        ...

    async def stop(self, recording_id: str) -> Summary | None:
        """Stop a recording and wait until its files are complete; None when there is no such recording.

        The ``on_ended`` listeners have run for it before this returns."""
        ...

    def active(self) -> list[ActiveRecording]:
        """Every recording that is running (or starting) now. Answers from memory: never waits, so commands
        can be screened before Discord's 3 s deadline."""
        ...

    def on_ended(self, listener: EndListener) -> None:
        """Call ``listener`` once for every recording that ends, whatever ended it."""
        ...
