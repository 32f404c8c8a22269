"""``LocalRecordings``: record in this process, with the recorder session, on the bot's own gateway session.

The bot that answers commands also joins voice: one gateway session per token, so the voice state always
belongs to the session that holds it (DESIGN.md §9). A bot user is in at most one voice channel per guild, so
there is at most one recording per guild; several guilds record at once.

The list of running recordings is saved (``state``) whenever it changes. A bot that restarts after a crash or a
SIGTERM continues each one under the same id: the writer resumes the files where they stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import discord

from pandora.logging import get_logger
from pandora_frontdoor.local.state import StateStore
from pandora_frontdoor.local.storage import Storage
from pandora_frontdoor.recordings import (
    ActiveRecording,
    EndListener,
    RecordRequest,
    StartOutcome,
    StartResult,
    Summary,
)
from pandora_recorder.sinks.base import Sink
from pandora_recorder.sinks.whole_files import write_whole_files
from pandora_recorder.voice import RecorderSession, SessionOptions, SessionState, StopReason

log = get_logger(__name__)

CONNECT_TIMEOUT = 20.0
CAPTURE_POLL = 0.02  # how often a start looks whether the session has reached RECORDING
FINISHED_KEYS = 1024  # request keys of ended recordings remembered, for late duplicate deliveries

# Why a recording ended, in the words of the end notice; None: it was asked to stop.
ENDED_BECAUSE = {
    StopReason.MAX_DURATION: "it reached its maximum duration",
    StopReason.EMPTY_CHANNEL: "everybody left the channel",
    StopReason.VOICE_LOST: "the voice connection was lost and did not come back",
    StopReason.STORAGE_FAILED: "the recording could not be written to its storage any more",
    StopReason.CONNECT_FAILED: "I could not join the voice channel",
}
FAILED = {StopReason.CONNECT_FAILED, StopReason.STORAGE_FAILED}


@dataclass(eq=False)
class _Running:
    request: RecordRequest
    session: RecorderSession
    sink: Sink
    recording: ActiveRecording | None = None  # known once the writer has opened the files
    capturing: bool = False
    ended: asyncio.Future[Summary] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def live(self) -> bool:
        return self.recording is not None and not self.ended.done()


class LocalRecordings:
    """Implements ``pandora_frontdoor.recordings.Recordings``."""

    def __init__(self, client: discord.Client, storage: Storage, state: StateStore, *,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.client = client
        self.storage = storage
        self.state = state
        self.connect_timeout = connect_timeout
        self._by_guild: dict[int, _Running] = {}
        self._guild_locks: dict[int, asyncio.Lock] = {}
        self._listeners: list[EndListener] = []
        self._finished: OrderedDict[str, ActiveRecording] = OrderedDict()  # by request key
        self._to_resume: list[ActiveRecording] = []  # listed in the state until resumed
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def on_ended(self, listener: EndListener) -> None:
        self._listeners.append(listener)

    def active(self) -> list[ActiveRecording]:
        return [running.recording for running in self._by_guild.values()
                if running.recording is not None and running.live]

    async def start(self, request: RecordRequest) -> StartOutcome:
        return await self._start(request, recording_id=None)

    async def _start(self, request: RecordRequest, recording_id: int | None,
                     started_at: float | None = None) -> StartOutcome:
        async with self._guild_locks.setdefault(request.guild_id, asyncio.Lock()):
            while (running := self._by_guild.get(request.guild_id)) is not None:
                await self._capturing_or_ended(running)
                if running.live and running.recording is not None:
                    if running.request.key == request.key:
                        return StartOutcome(StartResult.STARTED, running.recording)
                    if running.request.voice_channel_id == request.voice_channel_id:
                        return StartOutcome(StartResult.ALREADY_RECORDING, running.recording)
                    return StartOutcome(StartResult.GUILD_BUSY, running.recording)
                await asyncio.shield(running.ended)  # ending: its slot is free once its bookkeeping is done
            done = self._finished.get(request.key)
            if done is not None:  # a late second delivery of a request whose recording has ended
                return StartOutcome(StartResult.FAILED, done,
                                    f"this request already made recording {done.recording_id}, which has ended")
            try:
                sink, where = await asyncio.to_thread(self.storage.open)
            except (OSError, TimeoutError, ValueError) as error:
                log.error("storage unavailable", error=str(error))
                return StartOutcome(StartResult.FAILED, reason=f"the storage is unavailable ({error})",
                                    transient=True)
            running = self._launch(request, sink, where, recording_id, started_at)
        await self._capturing_or_ended(running)
        if not running.capturing or running.recording is None:
            summary = await asyncio.shield(running.ended)
            return StartOutcome(StartResult.FAILED, reason=summary.message)
        if started_at is None:
            running.recording = replace(running.recording, started_at=time.time())
        await self._save()
        log.info("recording started", recording_id=running.recording.recording_id, guild=request.guild_id,
                 channel=request.voice_channel_id, source=request.requested_by.source.value)
        return StartOutcome(StartResult.STARTED, running.recording)

    def _launch(self, request: RecordRequest, sink: Sink, where: Callable[[int], str], recording_id: int | None,
                started_at: float | None) -> _Running:
        options = SessionOptions(
            guild_id=request.guild_id, channel_id=request.voice_channel_id, recording_id=recording_id,
            max_duration=request.max_duration, requester_id=request.requested_by.user_id,
            connect_timeout=self.connect_timeout,
        )

        def opened(new_id: int) -> None:
            running.recording = ActiveRecording(
                recording_id=str(new_id), key=request.key, guild_id=request.guild_id,
                voice_channel_id=request.voice_channel_id, requested_by=request.requested_by,
                text_channel_id=request.text_channel_id, started_at=started_at,
            )

        running = _Running(request, RecorderSession(self.client, sink, options, on_started=opened), sink)
        self._by_guild[request.guild_id] = running
        task = asyncio.create_task(self._run(running, where))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return running

    async def _capturing_or_ended(self, running: _Running) -> None:
        """Until audio is captured (the session reached RECORDING) or the session is over."""
        while not running.capturing and not running.ended.done():
            if running.session.state is SessionState.RECORDING:
                running.capturing = True
                return
            await asyncio.sleep(CAPTURE_POLL)

    async def _run(self, running: _Running, where: Callable[[int], str]) -> None:
        reason = StopReason.CONNECT_FAILED
        try:
            reason = await running.session.run()
        except Exception:
            log.exception("recorder session failed")
        progress = running.session.progress()
        suspended = self._closing and reason is StopReason.SIGNAL  # shutting down: the next start continues it
        if running.capturing and not suspended and running.recording is not None and reason not in FAILED:
            with contextlib.suppress(Exception):  # logged inside; the chunks are complete either way
                await asyncio.to_thread(write_whole_files, running.sink, int(running.recording.recording_id))
        with contextlib.suppress(Exception):
            await asyncio.to_thread(running.sink.close)
        request = running.request
        recording = running.recording or ActiveRecording(
            recording_id="", key=request.key, guild_id=request.guild_id, voice_channel_id=request.voice_channel_id,
            requested_by=request.requested_by, text_channel_id=request.text_channel_id,
        )
        summary = Summary(
            recording=recording,
            completed=reason not in FAILED and running.session.state is SessionState.FINISHED,
            duration_seconds=progress.duration_seconds if progress else 0.0,
            speakers=tuple(speaker.name for speaker in progress.speakers) if progress else (),
            location=where(int(recording.recording_id)) if recording.recording_id else "",
            message=ENDED_BECAUSE.get(reason, ""),
        )
        if self._by_guild.get(request.guild_id) is running:
            del self._by_guild[request.guild_id]
        if running.capturing and not suspended:
            self._finished[request.key] = recording
            while len(self._finished) > FINISHED_KEYS:
                self._finished.popitem(last=False)
            await self._save()
            for listener in self._listeners:
                try:
                    await listener(summary)
                except Exception:
                    log.exception("end listener failed", recording_id=recording.recording_id)
        log.info("recording ended", recording_id=recording.recording_id, reason=reason.value, suspended=suspended)
        running.ended.set_result(summary)

    async def stop(self, recording_id: str) -> Summary | None:
        running = next((r for r in self._by_guild.values()
                        if r.live and r.recording is not None and r.recording.recording_id == recording_id), None)
        if running is None:
            return None
        running.session.request_stop(StopReason.REQUESTED)
        return await asyncio.shield(running.ended)

    async def _save(self) -> None:
        recordings = [r.recording for r in self._by_guild.values() if r.recording is not None and r.capturing]
        listed = {r.recording_id for r in recordings}
        recordings += [r for r in self._to_resume if r.recording_id not in listed]
        try:
            await asyncio.to_thread(self.state.save, recordings)
        except Exception as error:  # the recording goes on; only a restart would not find it
            log.warning("bot state not saved", error=str(error))

    # -- restart and shutdown ---------------------------------------------------------------------------------

    async def resume(self) -> tuple[list[ActiveRecording], list[tuple[ActiveRecording, str]]]:
        """Continue every recording the state lists, under its own id.

        Returns the recordings that continue, and those that could not, with why."""
        try:
            self._to_resume = await asyncio.to_thread(self.state.load)
        except Exception as error:
            log.error("bot state unreadable: nothing resumed", error=str(error))
            return [], []
        continued: list[ActiveRecording] = []
        lost: list[tuple[ActiveRecording, str]] = []
        for recording in list(self._to_resume):
            request = RecordRequest(
                key=recording.key, guild_id=recording.guild_id, voice_channel_id=recording.voice_channel_id,
                requested_by=recording.requested_by, text_channel_id=recording.text_channel_id,
            )
            outcome = await self._start(request, int(recording.recording_id), started_at=recording.started_at)
            self._to_resume.remove(recording)
            if outcome.result is StartResult.STARTED and outcome.recording is not None:
                log.info("recording resumed", recording_id=recording.recording_id)
                continued.append(outcome.recording)
            else:
                log.error("recording not resumed", recording_id=recording.recording_id, reason=outcome.reason)
                lost.append((recording, outcome.reason))
        await self._save()
        return continued, lost

    async def close(self) -> None:
        """Stop every recording cleanly but keep them listed, so the next start continues them."""
        self._closing = True
        running = list(self._by_guild.values())
        for item in running:
            item.session.request_stop(StopReason.SIGNAL)
        for item in running:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(item.ended), 30)
