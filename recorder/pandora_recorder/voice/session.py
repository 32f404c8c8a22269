"""One recording of one voice channel, from joining to the last byte on disk.

The session owns the order of the shutdown: stop taking datagrams, drain the reorder window, let the writer put
everything in the sink, then leave voice and restore the nickname. Nothing here runs on the UDP reader thread.
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
from pandora_recorder.report import NoopReporter, Progress, SpeakerTrack, StatusReporter
from pandora_recorder.sinks.base import Sink
from pandora_recorder.voice.client import RecordingVoiceClient
from pandora_recorder.voice.states import SessionState, StateMachine, StopReason

log = get_logger(__name__)

NICKNAME_PREFIX = "[RECORDING] "
NICKNAME_LIMIT = 32  # Discord's maximum nickname length
TICK = 0.1  # how often frames that waited out the reorder hold are handed to the writer
VOICE_LOST_AFTER = 10.0  # seconds without a voice connection (discord.py retries meanwhile) before giving up
PROGRESS_EVERY = 10.0  # progress log lines
REPORT_EVERY = 2.0  # progress reports to the Recording's status (the reporter throttles too)


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


def speaker_from(user: discord.abc.User) -> Speaker:
    avatar = user.display_avatar
    return Speaker(
        id=user.id,
        name=user.display_name,
        username=user.name,
        discriminator=user.discriminator or "0",
        global_name=user.global_name,
        bot=user.bot,
        avatar_url=str(avatar.url) if avatar else None,
    )


def recording_nickname(current: str) -> str:
    return (NICKNAME_PREFIX + current)[:NICKNAME_LIMIT]


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
        self.writer: RawRecordingWriter | None = None
        self.voice: RecordingVoiceClient | None = None
        self._on_started = on_started
        self._reporter = reporter or NoopReporter()
        self._report_task: asyncio.Task[None] | None = None
        self._clock = clock
        self._stop = asyncio.Event()
        self._speakers: dict[int, Speaker] = {}
        self._guild: discord.Guild | None = None
        self._previous_nick: str | None = None
        self._nick_changed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def state(self) -> SessionState:
        return self.machine.state

    def _move(self, target: SessionState) -> None:
        previous = self.machine.move(target)
        log.info("recorder session state", previous=previous.value, state=target.value)

    def request_stop(self, reason: StopReason = StopReason.REQUESTED) -> None:
        """Safe from signal handlers and any coroutine on the session's loop."""
        if self.stop_reason is None:
            self.stop_reason = reason
            log.info("stop requested", reason=reason.value)
        self._stop.set()

    async def stopped(self) -> None:
        """Returns once a stop was requested."""
        await self._stop.wait()

    # -- the lifecycle -----------------------------------------------------------------------------------------

    async def run(self) -> StopReason:
        self._move(SessionState.CONNECTING)
        try:
            guild, channel = self._resolve_channel()
            self._guild = guild
            self.writer = RawRecordingWriter(
                self.sink, self.speaker_of, recording_id=self.options.recording_id,
                info=await self._recording_info(guild, channel),
            )
            if self._on_started is not None:
                self._on_started(self.writer.recording_id)
            await self._set_recording_nickname(guild)
            factory = RecordingVoiceClient.factory(self.writer.submit, self._on_speaker, self.options.transport_modes)
            voice = await channel.connect(cls=factory, timeout=self.options.connect_timeout, self_mute=True)
            assert isinstance(voice, RecordingVoiceClient)
            self.voice = voice
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
        self._move(SessionState.RECORDING)
        log.info("recording", recording_id=self.writer.recording_id, guild=guild.id, channel=channel.id,
                 mode=voice.mode, resumed=self.writer.resumed)
        await self._watch(channel)
        await self._shutdown(failed=self.stop_reason is StopReason.STORAGE_FAILED)
        return self.stop_reason or StopReason.REQUESTED

    def _resolve_channel(self) -> tuple[discord.Guild, discord.VoiceChannel | discord.StageChannel]:
        guild = self.client.get_guild(self.options.guild_id)
        if guild is None:
            raise LookupError(f"guild {self.options.guild_id} is not visible to this bot")
        channel = guild.get_channel(self.options.channel_id)
        if not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            raise LookupError(f"channel {self.options.channel_id} is not a voice channel of guild {guild.id}")
        return guild, channel

    async def _watch(self, channel: discord.VoiceChannel | discord.StageChannel) -> None:
        started = self._clock()
        empty_since: float | None = None
        lost_since: float | None = None
        next_progress = started + PROGRESS_EVERY
        next_report = started
        voice = self.voice
        assert voice is not None
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TICK)
            voice.pipeline.release_due()
            now = self._clock()
            if self.writer is not None and self.writer.error is not None:
                log.error("the recording cannot be written any more", error=repr(self.writer.error))
                self.request_stop(StopReason.STORAGE_FAILED)
            if self.options.max_duration is not None and now - started >= self.options.max_duration:
                self.request_stop(StopReason.MAX_DURATION)
            if self.options.empty_timeout is not None:
                if self._channel_has_others(channel):
                    empty_since = None
                elif empty_since is None:
                    empty_since = now
                elif now - empty_since >= self.options.empty_timeout:
                    self.request_stop(StopReason.EMPTY_CHANNEL)
            if voice.is_connected():
                lost_since = None
            elif lost_since is None:
                lost_since = now
            elif now - lost_since >= VOICE_LOST_AFTER:
                self.request_stop(StopReason.VOICE_LOST)
            if now >= next_progress:
                next_progress = now + PROGRESS_EVERY
                self._log_progress("recording progress")
            if now >= next_report:
                next_report = now + REPORT_EVERY
                self._report_in_background()

    def _channel_has_others(self, channel: discord.VoiceChannel | discord.StageChannel) -> bool:
        me = self.client.user.id if self.client.user else None
        in_channel = {user_id for user_id in channel.voice_states if user_id != me}
        return bool(in_channel)

    async def _shutdown(self, *, failed: bool = False) -> None:
        if self.state in (SessionState.CONNECTING, SessionState.RECORDING):
            self._move(SessionState.STOPPING)
        voice = self.voice
        try:
            if voice is not None:
                voice.stop_listening()
                voice.pipeline.flush()
            if self.writer is not None:
                try:
                    await asyncio.to_thread(self.writer.close)
                except RuntimeError:  # still leave voice and restore the nickname; what reached the sink stays
                    log.exception("the recording could not be written completely")
                    failed = True
            await self._report_final()
            self._move(SessionState.LEAVING)
            if voice is not None and voice.is_connected():
                await voice.disconnect(force=True)
            await self._restore_nickname()
            await self._post_summary()
        except Exception:
            log.exception("recorder shutdown failed")
            self._move(SessionState.FAILED)
            raise
        self._log_progress("recording finished")
        self._move(SessionState.FAILED if failed else SessionState.FINISHED)

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
        if self.voice is not None:
            fields.update(drops=dict(self.voice.pipeline.counters), dave_recoveries=self.voice.dave.recoveries,
                          dave_failures=dict(self.voice.dave.failure_kinds))
        log.info(event, **fields)

    # -- speakers and metadata --------------------------------------------------------------------------------

    def speaker_of(self, user_id: int) -> Speaker:
        """Called on the writer thread when a user's first frame opens their track: cache reads only."""
        known = self._speakers.get(user_id)
        if known is not None:
            return known
        guild = self._guild
        user = (guild.get_member(user_id) if guild else None) or self.client.get_user(user_id)
        if user is not None:
            return speaker_from(user)
        return Speaker(id=user_id, name=str(user_id), username=str(user_id))

    def _on_speaker(self, user_id: int) -> None:
        """Voice op 5 (event loop): learn the speaker's names before their first frame reaches the writer."""
        if user_id in self._speakers or self._guild is None:
            return
        member = self._guild.get_member(user_id)
        if member is not None:
            self._speakers[user_id] = speaker_from(member)
            return
        task = asyncio.get_running_loop().create_task(self._fetch_speaker(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch_speaker(self, user_id: int) -> None:
        try:
            assert self._guild is not None
            self._speakers[user_id] = speaker_from(await self._guild.fetch_member(user_id))
        except discord.HTTPException:
            try:
                self._speakers[user_id] = speaker_from(await self.client.fetch_user(user_id))
            except discord.HTTPException as error:
                log.warning("speaker name unknown", user_id=user_id, error=str(error))

    async def _recording_info(
        self, guild: discord.Guild, channel: discord.VoiceChannel | discord.StageChannel
    ) -> RecordingInfo:
        requester: Speaker | None = None
        if self.options.requester_id is not None:
            user = guild.get_member(self.options.requester_id) or self.client.get_user(self.options.requester_id)
            if user is None:
                try:
                    user = await self.client.fetch_user(self.options.requester_id)
                except discord.HTTPException:
                    user = None
            requester = speaker_from(user) if user is not None else Speaker(
                id=self.options.requester_id, name=str(self.options.requester_id),
                username=str(self.options.requester_id))
        return RecordingInfo(
            guild_id=guild.id, guild_name=guild.name, guild_icon=guild.icon.key if guild.icon else None,
            channel_id=channel.id, channel_name=channel.name, channel_type=channel.type.value,
            requester=requester, client_id=self.client.user.id if self.client.user else None,
        )

    # -- nickname and text channel (best effort: a missing permission must not stop a recording) -------------

    async def _set_recording_nickname(self, guild: discord.Guild) -> None:
        me = guild.me
        self._previous_nick = me.nick
        try:
            await me.edit(nick=recording_nickname(me.nick or me.name))
            self._nick_changed = True
        except discord.HTTPException as error:
            log.warning("could not show recording in nickname", error=str(error))

    async def _restore_nickname(self) -> None:
        if not self._nick_changed or self._guild is None:
            return
        try:
            await self._guild.me.edit(nick=self._previous_nick)
            self._nick_changed = False
        except discord.HTTPException as error:
            log.warning("could not restore nickname", error=str(error))

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
