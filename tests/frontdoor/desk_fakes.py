"""Fakes of the small interfaces the desk talks through (all owned by the front door)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pandora_frontdoor.desk import ChannelFacts
from pandora_frontdoor.recordings import (
    ActiveRecording,
    EndListener,
    RecordRequest,
    StartOutcome,
    StartResult,
    Summary,
)


@dataclass
class FakeRecordings:
    """Starts succeed with ids 1001, 1002, ... unless ``next_outcome`` says otherwise."""

    recordings: list[ActiveRecording] = field(default_factory=list)
    requests: list[RecordRequest] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    listeners: list[EndListener] = field(default_factory=list)
    next_outcome: StartOutcome | None = None
    start_delay: float = 0.0

    def active(self) -> list[ActiveRecording]:
        return list(self.recordings)

    def on_ended(self, listener: EndListener) -> None:
        self.listeners.append(listener)

    async def start(self, request: RecordRequest) -> StartOutcome:
        self.requests.append(request)
        await asyncio.sleep(self.start_delay)
        if self.next_outcome is not None:
            return self.next_outcome
        for recording in self.recordings:
            if recording.voice_channel_id == request.voice_channel_id:
                return StartOutcome(StartResult.ALREADY_RECORDING, recording)
        recording = ActiveRecording(str(1001 + len(self.requests) - 1), request.key, request.guild_id,
                                    request.voice_channel_id, request.requested_by, request.text_channel_id, 1.0)
        self.recordings.append(recording)
        return StartOutcome(StartResult.STARTED, recording)

    async def stop(self, recording_id: str) -> Summary | None:
        recording = next((r for r in self.recordings if r.recording_id == recording_id), None)
        if recording is None:
            return None
        self.stopped.append(recording_id)
        return await self.end(recording)

    async def end(self, recording: ActiveRecording, *, message: str = "") -> Summary:
        """The recording ends (by a stop, or by itself when called from a test)."""
        self.recordings.remove(recording)
        summary = Summary(recording, completed=True, duration_seconds=83, speakers=("alice", "bob"),
                          location="/data/recordings", message=message)
        for listener in self.listeners:
            await listener(summary)
        return summary


@dataclass
class FakeResponder:
    said: list[tuple[str, str]] = field(default_factory=list)  # (refuse|working|answer|fail, text)

    async def refuse(self, text: str) -> None:
        self.said.append(("refuse", text))

    async def working(self) -> None:
        self.said.append(("working", ""))

    async def answer(self, text: str) -> None:
        self.said.append(("answer", text))

    async def fail(self, text: str) -> None:
        self.said.append(("fail", text))


@dataclass
class FakeGuild:
    channels: dict[int, ChannelFacts] = field(default_factory=dict)

    def channel(self, channel_id: int) -> ChannelFacts | None:
        return self.channels.get(channel_id)


@dataclass
class FakeNotices:
    posted: list[tuple[int, str]] = field(default_factory=list)

    async def post(self, text_channel_id: int, text: str) -> None:
        self.posted.append((text_channel_id, text))
