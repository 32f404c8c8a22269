"""The command logic: a parsed command from a member becomes a recording request, and every outcome a reply.

The desk knows nothing of discord.py or Kubernetes. The Discord side hands it an ``Invocation`` (who, where,
what), a ``GuildView`` (what the bot can see of the channels) and a ``Responder`` (how to answer this one
command); it talks to a ``Recordings``. Checks that need no waiting (permissions, channel kind, the bot's own
permissions, what is already recording) run first and are answered at once; only then may the answer take
seconds (a slash command is deferred), while the recorder joins or stops.

Nothing is silent: every refusal is answered. The one exception is a duplicate delivery of an event already
handled (same message or interaction id), which is ignored so one command starts one recording.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from pandora.logging import get_logger
from pandora_frontdoor import replies
from pandora_frontdoor.access import AccessPolicy, Member
from pandora_frontdoor.parsing import Command, Verb
from pandora_frontdoor.recordings import (
    ActiveRecording,
    Recordings,
    RecordRequest,
    Requester,
    Source,
    StartResult,
    Summary,
)

log = get_logger(__name__)

SEEN_KEYS = 4096  # how many handled event ids are remembered for duplicate deliveries


class ChannelKind(Enum):
    VOICE = "voice"
    STAGE = "stage"
    TEXT = "text"
    OTHER = "other"


@dataclass(frozen=True)
class ChannelFacts:
    id: int
    kind: ChannelKind
    kind_name: str  # as users know it: "voice", "stage", "text", "forum", ...
    bot_missing: tuple[str, ...] = ()  # the bot's permissions needed to record it that it lacks


@dataclass(frozen=True)
class Invocation:
    key: str  # the message or interaction id, prefixed by its kind: unique per delivered event
    source: Source
    guild_id: int
    text_channel_id: int
    member: Member
    command: Command
    text_missing: tuple[str, ...] = ()  # the bot's permissions it lacks in the text channel (Send Messages)


class GuildView(Protocol):
    def channel(self, channel_id: int) -> ChannelFacts | None:
        """The channel of this guild with that id, or None when there is none (or the bot cannot see it)."""
        ...


class Responder(Protocol):
    """How to answer one command. Text commands post in the channel; slash commands use the interaction."""

    async def refuse(self, text: str) -> None:
        """An immediate no (ephemeral where Discord allows)."""

    async def working(self) -> None:
        """The answer may take seconds (a slash command is deferred)."""

    async def answer(self, text: str) -> None:
        """The result, for everybody in the channel."""

    async def fail(self, text: str) -> None:
        """It went wrong after ``working`` (ephemeral where Discord allows)."""


class Notices(Protocol):
    async def post(self, text_channel_id: int, text: str) -> None:
        """Post in a text channel, not in answer to a command (a recording that ended by itself)."""


@dataclass(frozen=True)
class Hints:
    """How replies name the commands: ``!end`` for text commands, ``/end`` for slash commands."""

    prefix: str | None
    slash: bool

    def end(self, source: Source | None = None) -> str:
        if self.prefix and (source is Source.TEXT_COMMAND or not self.slash):
            return f"`{self.prefix}end`"
        return "`/end`" if self.slash else "an end request"

    def record(self, source: Source) -> str:
        if self.prefix and (source is Source.TEXT_COMMAND or not self.slash):
            return f"`{self.prefix}record #channel`"
        return "`/record channel:`"


class CommandDesk:
    def __init__(
        self,
        recordings: Recordings,
        policy: AccessPolicy,
        hints: Hints,
        notices: Notices,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recordings = recordings
        self.policy = policy
        self.hints = hints
        self.notices = notices
        self._clock = clock
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._guild_locks: dict[int, asyncio.Lock] = {}
        self._ending: set[str] = set()  # ended by a command here: the command's answer is the summary
        recordings.on_ended(self._recording_ended)

    def first_delivery(self, key: str) -> bool:
        """False for an event id seen before (Discord may deliver an event twice, a gateway resume replays)."""
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > SEEN_KEYS:
            self._seen.popitem(last=False)
        return True

    async def handle(self, invocation: Invocation, guild: GuildView, respond: Responder) -> None:
        if not self.first_delivery(invocation.key):
            log.info("duplicate delivery ignored", key=invocation.key)
            return
        verb = invocation.command.verb
        log.info("command", verb=verb.value, source=invocation.source.value, guild=invocation.guild_id,
                 user=invocation.member.user_id)
        if verb is Verb.RECORD:
            await self._record(invocation, guild, respond)
        elif verb is Verb.END:
            await self._end(invocation, respond)
        else:
            await respond.answer(replies.status(self._in_guild(invocation.guild_id), self._clock()))

    def _in_guild(self, guild_id: int) -> list[ActiveRecording]:
        return [r for r in self.recordings.active() if r.guild_id == guild_id]

    # -- record ----------------------------------------------------------------------------------------------

    def screen_record(self, invocation: Invocation, guild: GuildView) -> tuple[str | None, int]:
        """(refusal text or None, the voice channel to record)."""
        command, member = invocation.command, invocation.member
        if not self.policy.may_start(member):
            return replies.not_allowed_to_start(sorted(self.policy.roles)), 0
        if command.bad_channel is not None:
            return replies.unknown_channel(command.bad_channel), 0
        target = command.channel_id or member.voice_channel_id
        if target is None:
            return replies.not_in_voice(self.hints.record(invocation.source)), 0
        facts = guild.channel(target)
        if facts is None:
            return replies.unknown_channel(str(target)), 0
        if facts.kind is not ChannelKind.VOICE:
            return replies.not_a_voice_channel(target, facts.kind_name), 0
        if facts.bot_missing:
            return replies.bot_missing(target, facts.bot_missing), 0
        if invocation.text_missing:
            return replies.cannot_post(invocation.text_channel_id, invocation.text_missing), 0
        for recording in self._in_guild(invocation.guild_id):
            if recording.voice_channel_id == target:
                return replies.already_recording(recording), 0
        return None, target

    async def _record(self, invocation: Invocation, guild: GuildView, respond: Responder) -> None:
        refusal, target = self.screen_record(invocation, guild)
        if refusal is not None:
            await respond.refuse(refusal)
            return
        member = invocation.member
        request = RecordRequest(
            key=invocation.key, guild_id=invocation.guild_id, voice_channel_id=target,
            requested_by=Requester(invocation.source, member.user_id, member.name),
            text_channel_id=invocation.text_channel_id,
        )
        await respond.working()
        # One start at a time per guild: a command typed twice sees the first one's recording.
        async with self._guild_locks.setdefault(invocation.guild_id, asyncio.Lock()):
            outcome = await self.recordings.start(request)
        end_hint = self.hints.end(invocation.source)
        if outcome.result is StartResult.STARTED and outcome.recording is not None:
            await respond.answer(replies.started(outcome.recording, end_hint))
        elif outcome.result is StartResult.ALREADY_RECORDING and outcome.recording is not None:
            await respond.fail(replies.already_recording(outcome.recording))
        elif outcome.result is StartResult.GUILD_BUSY and outcome.recording is not None:
            await respond.fail(replies.guild_busy(outcome.recording, end_hint))
        else:
            await respond.fail(replies.start_failed(outcome.reason))

    # -- end -------------------------------------------------------------------------------------------------

    def screen_end(self, invocation: Invocation) -> tuple[str | None, ActiveRecording | None]:
        member = invocation.member
        in_guild = self._in_guild(invocation.guild_id)
        if not in_guild:
            return replies.nothing_to_end(), None
        chosen = [r for r in in_guild if r.voice_channel_id == member.voice_channel_id]
        if not chosen and len(in_guild) > 1:
            chosen = [r for r in in_guild if r.requested_by.user_id == member.user_id]
        if not chosen and len(in_guild) == 1:
            chosen = in_guild
        if len(chosen) != 1:
            return replies.which_to_end(in_guild), None
        recording = chosen[0]
        if not self.policy.may_end(member, recording):
            return replies.not_allowed_to_end(recording, sorted(self.policy.roles)), None
        return None, recording

    async def _end(self, invocation: Invocation, respond: Responder) -> None:
        refusal, recording = self.screen_end(invocation)
        if refusal is not None or recording is None:
            await respond.refuse(refusal or replies.nothing_to_end())
            return
        await respond.working()
        self._ending.add(recording.recording_id)
        try:
            summary = await self.recordings.stop(recording.recording_id)
        finally:
            self._ending.discard(recording.recording_id)
        if summary is None:
            await respond.fail(replies.nothing_to_end())
            return
        await respond.answer(replies.summary(summary))

    # -- recordings that end by themselves, or come back after a restart -----------------------------------

    async def _recording_ended(self, summary: Summary) -> None:
        recording = summary.recording
        if recording.recording_id in self._ending or recording.text_channel_id is None:
            return
        await self._notify(recording.text_channel_id, replies.summary(summary))

    async def announce_resumed(self, continued: list[ActiveRecording],
                               lost: list[tuple[ActiveRecording, str]]) -> None:
        """After a restart: say which recordings continue, and which could not (with why)."""
        for recording in continued:
            if recording.text_channel_id is not None:
                await self._notify(recording.text_channel_id, replies.resumed(recording, self.hints.end()))
        for recording, reason in lost:
            if recording.text_channel_id is not None:
                await self._notify(recording.text_channel_id, replies.not_resumed(recording, reason))

    async def _notify(self, channel_id: int, text: str) -> None:
        try:
            await self.notices.post(channel_id, text)
        except Exception as error:  # a notice that cannot be posted must not break the recording's bookkeeping
            log.warning("notice not posted", channel=channel_id, error=str(error))
