"""One recording of one voice channel, from joining to the last byte on disk.

The session builds the audio path and owns its order: the writer (and its sink), the receive pipeline in front of
it, then the voice client that feeds the pipeline. At the end it stops taking datagrams, drains the reorder window,
lets the writer put everything in the sink, then leaves voice and restores the nickname. Nothing here runs on the
UDP reader thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord

from pandora.logging import get_logger
from pandora_recorder.frames import Speaker
from pandora_recorder.raw import RawRecordingWriter, RecordingInfo
from pandora_recorder.raw.writer import DEFAULT_FLUSH_INTERVAL
from pandora_recorder.receive import SUPPORTED_MODES, DaveDecryptor, ReceivePipeline
from pandora_recorder.report import NoopReporter, Progress, SpeakerTrack, StatusReporter
from pandora_recorder.sinks.base import Sink
from pandora_recorder.voice.client import RecordingVoiceClient
from pandora_recorder.voice.nickname import RecordingNickname
from pandora_recorder.voice.speakers import SpeakerNames
from pandora_recorder.voice.states import SessionState, StateMachine, StopReason
from pandora_recorder.voice.watch import Every, Observed, RecordingLimits

log = get_logger(__name__)

# What a crash costs is what was received but is not in the sink yet: at most the reorder hold, plus a tick for a
# speaker who stopped, plus the writer's flush interval (RawRecordingWriter's default for a local folder).
REORDER_HOLD = 0.1  # covers Discord's reordering (tens of ms); a frame later than this is still kept, out of order
TICK = 0.05  # how often frames that waited out the reorder hold are handed to the writer
PROGRESS_EVERY = 10.0  # progress log lines
REPORT_EVERY = 2.0  # progress reports to the Recording's status (the reporter throttles too)

VoiceChannel = discord.VoiceChannel | discord.StageChannel


@dataclass(frozen=True)
class SessionOptions:
    guild_id: int
    channel_id: int
    recording_id: int | None = None
    max_duration: float | None = None
    empty_timeout: float | None = None
    requester_id: int | None = None
    text_channel_id: int | None = None
    connect_timeout: float = 30.0
    transport_modes: tuple[str, ...] | None = None  # None: every mode Pandora supports
    flush_interval: float = DEFAULT_FLUSH_INTERVAL  # how often received frames go to the sink


class RecorderSession:
    def __init__(
        self,
        client: discord.Client,
        sink: Sink,
        options: SessionOptions,
        *,
        on_started: Callable[[int], None] | None = None,
        reporter: StatusReporter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.sink = sink
        self.options = options
        self.machine = StateMachine()
        self.stop_reason: StopReason | None = None
        # The audio path, built by run() in this order: writer, pipeline (with its DAVE decryptor), voice client.
        self.writer: RawRecordingWriter | None = None
        self.dave = DaveDecryptor()
        self.pipeline: ReceivePipeline | None = None
        self.voice: RecordingVoiceClient | None = None
        self._speakers = SpeakerNames(client)
        self._nickname = RecordingNickname()
        self._on_started = on_started
        self._reporter = reporter or NoopReporter()
        self._report_task: asyncio.Task[None] | None = None
        self._clock = clock
        self._stop = asyncio.Event()
        self._guild: discord.Guild | None = None

    @property
    def state(self) -> SessionState:
        return self.machine.state

    def request_stop(self, reason: StopReason = StopReason.REQUESTED) -> None:
        """Safe from signal handlers and any coroutine on the session's loop."""
        if self.stop_reason is None:
            self.stop_reason = reason
            log.info("stop requested", reason=reason.value)
        self._stop.set()

    async def stopped(self) -> None:
        """Returns once a stop was requested."""
        await self._stop.wait()

    def speaker_of(self, user_id: int) -> Speaker:
        """Who ``user_id`` is, for their track (the writer thread asks): cache reads only."""
        return self._speakers.speaker_of(user_id)

    # -- the lifecycle -----------------------------------------------------------------------------------------

    async def run(self) -> StopReason:
        self.machine.move(SessionState.CONNECTING)
        try:
            guild, channel = self._resolve_channel()
            voice = await self._start(guild, channel)
        except Exception:
            log.exception("could not start recording")
            self.request_stop(StopReason.CONNECT_FAILED)
            partial = self._guild.voice_client if self._guild is not None else None
            if partial is not None:  # a join that timed out half-way
                await partial.disconnect(force=True)
            await self._shutdown(failed=True)
            return StopReason.CONNECT_FAILED
        if self._stop.is_set():  # a signal arrived while joining
            await self._shutdown()
            return self.stop_reason or StopReason.REQUESTED
        self.machine.move(SessionState.RECORDING)
        assert self.writer is not None
        log.info("recording", recording_id=self.writer.recording_id, guild=guild.id, channel=channel.id,
                 mode=voice.mode, resumed=self.writer.resumed)
        await self._watch(channel)
        await self._shutdown(failed=self.stop_reason is StopReason.STORAGE_FAILED)
        return self.stop_reason or StopReason.REQUESTED

    def _resolve_channel(self) -> tuple[discord.Guild, VoiceChannel]:
        guild = self.client.get_guild(self.options.guild_id)
        if guild is None:
            raise LookupError(f"guild {self.options.guild_id} is not visible to this bot")
        channel = guild.get_channel(self.options.channel_id)
        if not isinstance(channel, VoiceChannel):
            raise LookupError(f"channel {self.options.channel_id} is not a voice channel of guild {guild.id}")
        return guild, channel

    async def _start(self, guild: discord.Guild, channel: VoiceChannel) -> RecordingVoiceClient:
        """Build the audio path from its end: writer, pipeline, then the voice client that feeds it."""
        self._guild = guild
        self._speakers.use_guild(guild)
        self.writer = RawRecordingWriter(
            self.sink, self._speakers.speaker_of, recording_id=self.options.recording_id,
            info=await self._recording_info(guild, channel), flush_interval=self.options.flush_interval,
        )
        if self._on_started is not None:
            self._on_started(self.writer.recording_id)
        self.pipeline = ReceivePipeline(self.writer.submit, self.dave, max_hold=REORDER_HOLD)
        nickname = asyncio.create_task(self._nickname.show(guild))  # a REST call: the join need not wait for it
        try:
            voice = await channel.connect(cls=self._voice_client, timeout=self.options.connect_timeout,
                                          self_mute=True)
        finally:
            await nickname
        assert isinstance(voice, RecordingVoiceClient)
        return voice

    def _voice_client(self, client: discord.Client, channel: discord.abc.Connectable) -> RecordingVoiceClient:
        """discord.py's ``cls(client, channel)``: a voice client that feeds this session's pipeline."""
        assert self.pipeline is not None
        voice = RecordingVoiceClient(
            client, channel, self.pipeline, on_speaker_identified=self._speakers.learn,
            transport_modes=self.options.transport_modes or SUPPORTED_MODES,
        )
        self.dave.attach(voice)  # the decryptor reads discord.py's DAVE session and asks this client to re-key
        self.voice = voice
        return voice

    async def _watch(self, channel: VoiceChannel) -> None:
        """Every tick until a stop is requested: hand due frames on, check the limits, log and report progress."""
        assert self.pipeline is not None
        started = self._clock()
        limits = RecordingLimits(started, max_duration=self.options.max_duration,
                                 empty_timeout=self.options.empty_timeout)
        progress_log, status_report = Every(PROGRESS_EVERY, started + PROGRESS_EVERY), Every(REPORT_EVERY, started)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TICK)
            self.pipeline.release_due()
            seen = self._observe(channel)
            reason = limits.reached(seen)
            if reason is not None:
                self.request_stop(reason)
            if progress_log.due(seen.now):
                self._log_progress("recording progress")
            if status_report.due(seen.now):
                self._report_in_background()

    def _observe(self, channel: VoiceChannel) -> Observed:
        return Observed(now=self._clock(), writer_failed=self._writer_failed(),
                        others_in_channel=self._channel_has_others(channel),
                        voice_connected=self.voice is not None and self.voice.is_connected())

    def _writer_failed(self) -> bool:
        error = self.writer.error if self.writer is not None else None
        if error is not None:
            log.error("the recording cannot be written any more", error=repr(error))
        return error is not None

    def _channel_has_others(self, channel: VoiceChannel) -> bool:
        me = self.client.user.id if self.client.user else None
        return any(user_id != me for user_id in channel.voice_states)

    async def _shutdown(self, *, failed: bool = False) -> None:
        if self.state in (SessionState.CONNECTING, SessionState.RECORDING):
            self.machine.move(SessionState.STOPPING)
        voice = self.voice
        try:
            if voice is not None:
                await voice.read_what_arrived()
                voice.stop_listening()
            if self.pipeline is not None:
                self.pipeline.flush()
            if self.writer is not None:
                try:
                    await asyncio.to_thread(self.writer.close)
                except RuntimeError:  # still leave voice and restore the nickname; what reached the sink stays
                    log.exception("the recording could not be written completely")
                    failed = True
            await self._report_final()
            self.machine.move(SessionState.LEAVING)
            if voice is not None and voice.is_connected():
                await voice.disconnect(force=True)
            await self._nickname.restore()
            await self._post_summary()
        except Exception:
            log.exception("recorder shutdown failed")
            self.machine.move(SessionState.FAILED)
            raise
        self._log_progress("recording finished")
        self.machine.move(SessionState.FAILED if failed else SessionState.FINISHED)

    # -- progress ----------------------------------------------------------------------------------------------

    def progress(self) -> Progress | None:
        """How long, how many bytes, who is on which track: what the Recording's status shows."""
        if self.writer is None:
            return None
        tracks = self.writer.speaker_tracks()
        speakers = [SpeakerTrack(id=str(user), name=self.speaker_of(user).name, track=track)
                    for user, track in sorted(tracks.items(), key=lambda item: item[1])]
        return Progress(duration_seconds=max(time.monotonic() - self.writer.start_monotonic, 0.0),
                        bytes_written=self.writer.stats().bytes_written, speakers=speakers)

    def _report_in_background(self) -> None:
        # A slow API server must not hold up the watch loop (stop requests, limits): one report in flight at most.
        if self._report_task is not None and not self._report_task.done():
            return
        progress = self.progress()
        if progress is not None:
            self._report_task = asyncio.get_running_loop().create_task(self._reporter.report(progress))

    async def _report_final(self) -> None:
        if self._report_task is not None:
            await self._report_task
        progress = self.progress()
        if progress is not None:
            await self._reporter.report(progress)
        await self._reporter.close()

    def _log_progress(self, event: str) -> None:
        fields: dict[str, Any] = {}
        if self.writer is not None:
            stats = self.writer.stats()
            fields.update(recording_id=self.writer.recording_id, frames=stats.frames_written,
                          bytes=stats.bytes_written, tracks=stats.tracks, writer_dropped=stats.frames_dropped)
        if self.pipeline is not None:
            fields.update(drops=dict(self.pipeline.counters), dave_recoveries=self.dave.recoveries,
                          dave_failures=dict(self.dave.failure_kinds))
        log.info(event, **fields)

    # -- what the recording says about itself ------------------------------------------------------------------

    async def _recording_info(self, guild: discord.Guild, channel: VoiceChannel) -> RecordingInfo:
        requester = (await self._speakers.requester(guild, self.options.requester_id)
                     if self.options.requester_id is not None else None)
        return RecordingInfo(
            guild_id=guild.id, guild_name=guild.name, guild_icon=guild.icon.key if guild.icon else None,
            channel_id=channel.id, channel_name=channel.name, channel_type=channel.type.value,
            requester=requester, client_id=self.client.user.id if self.client.user else None,
        )

    async def _post_summary(self) -> None:
        if self.options.text_channel_id is None or self.writer is None or self._guild is None:
            return
        channel = self._guild.get_channel(self.options.text_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        stats = self.writer.stats()
        try:
            await channel.send(f"Recording {self.writer.recording_id} ended: {stats.tracks} speaker(s).")
        except discord.HTTPException as error:
            log.warning("could not post recording summary", error=str(error))
