"""The pub/sub logic: a delivered start or stop becomes a recording request, and every outcome an answer.

Each delivery is answered to Dapr with a ``Status``: SUCCESS (done, or done before), RETRY (a transient failure:
Discord, the API server or the sidecar did not answer; Dapr delivers it again) or DROP (the request cannot be
carried out as sent: the reason is published on ``recordingDiscordInfo`` and logged; never retried). Dapr
delivers at least once, so a delivery whose message id was handled already is answered SUCCESS and nothing more:
one recording, one ack. A message published longer ago than ``max_age`` is dropped as stale: a subscriber with a
new app id (a new consumer group) is handed a Redis stream from its beginning, and years-old starts must not
start recordings (nor old stops end today's). Acks for ended recordings come from ``Recordings.on_ended``, so
every recording gets its ``stoppedRecordingDiscord``, whichever front door started it.

Like the command desk, the bridge only sees ``Recordings``: it does not know whether it records in this process
or through ``Recording`` resources.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from pandora.logging import get_logger
from pandora_frontdoor import replies
from pandora_frontdoor.desk import ChannelKind
from pandora_frontdoor.pubsub import topics
from pandora_frontdoor.pubsub.lookup import ChannelLookup, LookupUnavailable
from pandora_frontdoor.pubsub.payloads import InvalidPayload, StartMessage, parse_start, parse_stop, shown
from pandora_frontdoor.pubsub.topics import DEFAULT_MAX_AGE
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

HANDLED_IDS = 4096  # message ids remembered for redeliveries
ACK_ATTEMPTS = 6  # an end ack that cannot be published is tried again, 1, 2, 4... s apart
PUBSUB_REQUESTER = Requester(Source.PUBSUB, None, "pubsub")


class Status(Enum):
    """What Dapr is told about one delivery."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


class Publisher(Protocol):
    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Publish ``data`` as JSON on ``topic``; raises when the sidecar does not take it."""
        ...


@dataclass(frozen=True)
class Delivery:
    message_id: str  # the CloudEvent id: the same across redeliveries
    payload: Any
    published_at: float | None = None  # epoch seconds, from the CloudEvent's time


@dataclass(frozen=True)
class _Answer:
    status: Status
    info: str | None = None  # published on recordingDiscordInfo


def not_started(reason: str) -> str:
    return f"Couldn't start recording: {reason}."


class PubSubBridge:
    def __init__(self, recordings: Recordings, lookup: ChannelLookup, publisher: Publisher, *,
                 max_age: float = DEFAULT_MAX_AGE, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.recordings = recordings
        self.lookup = lookup
        self.publisher = publisher
        self.max_age = max_age
        self._clock = clock
        self._sleep = sleep
        self._handled: OrderedDict[str, Status] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[Status]] = {}
        self._acks: set[asyncio.Task[None]] = set()
        recordings.on_ended(self._ended)

    # -- deliveries ------------------------------------------------------------------------------------------

    async def start(self, delivery: Delivery) -> Status:
        return await self._once(f"start:{delivery.message_id}", lambda: self._fresh(delivery, "start") or
                                self._start(delivery.message_id, delivery.payload))

    async def stop(self, delivery: Delivery) -> Status:
        return await self._once(f"stop:{delivery.message_id}", lambda: self._fresh(delivery, "stop") or
                                self._stop(delivery.payload))

    def _fresh(self, delivery: Delivery, verb: str) -> Awaitable[_Answer] | None:
        """None for a message young enough to act on; else the answer to a stale one."""
        if not self.max_age or delivery.published_at is None:
            return None
        age = self._clock() - delivery.published_at
        if age <= self.max_age:
            return None
        log.warning("stale message dropped", verb=verb, message=delivery.message_id, age_seconds=round(age))

        async def stale() -> _Answer:
            return _Answer(Status.DROP, f"Couldn't {verb} recording: the request was published {age:.0f} s ago, "
                                        f"longer than the {self.max_age:.0f} s a request stays valid; publish it "
                                        "again if it still holds.")

        return stale()
    async def _once(self, key: str, handle: Callable[[], Awaitable[_Answer]]) -> Status:
        """Handle each message id once; a redelivery while it is handled waits for that outcome."""
        if key in self._handled:
            log.info("redelivery of a handled message: nothing done again", message=key)
            return Status.SUCCESS
        if key in self._in_flight:
            return await asyncio.shield(self._in_flight[key])
        done: asyncio.Future[Status] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = done
        status = Status.DROP
        try:
            answer = await handle()
            status = answer.status
            if answer.info:
                await self._info(answer.info)
        except Exception:  # never crash the bridge, never retry a message that breaks it forever
            log.exception("pub/sub message failed", message=key)
            await self._info("Something went wrong on my side with that request; it has been logged.")
        finally:
            del self._in_flight[key]
            if status is not Status.RETRY:
                self._handled[key] = status
                while len(self._handled) > HANDLED_IDS:
                    self._handled.popitem(last=False)
            done.set_result(status)
        return status

    async def _start(self, message_id: str, data: Any) -> _Answer:
        try:
            message = parse_start(data)
        except InvalidPayload as error:
            log.warning("start refused", reason=str(error), payload=shown(data))
            return _Answer(Status.DROP, f"Couldn't start recording, invalid start payload {shown(data)}: {error}")
        channel = message.voice_channel_id
        try:
            found = await self.lookup.voice_channel(channel)
        except LookupUnavailable as error:
            log.warning("Discord did not answer a channel lookup: delivery retried", channel=channel,
                        error=str(error))
            return _Answer(Status.RETRY)
        if found is None:
            return _Answer(Status.DROP, not_started(
                f"I cannot see a channel {channel}: check the id, and that the bot is in its server"))
        if found.facts.kind is not ChannelKind.VOICE:
            return _Answer(Status.DROP, not_started(f"channel {channel} is a {found.facts.kind_name} channel, not "
                                                    "a voice channel"))
        if message.guild_id is not None and message.guild_id != found.guild_id:
            return _Answer(Status.DROP, not_started(f"channel {channel} is in server {found.guild_id}, not in "
                                                    f"guildId {message.guild_id}"))
        if found.facts.bot_missing:
            missing = " and ".join(found.facts.bot_missing)
            return _Answer(Status.DROP, not_started(f"the bot lacks the {missing} permission in channel {channel}; "
                                                    "a server admin can grant it in the channel's settings"))
        existing = next((r for r in self.recordings.active() if r.voice_channel_id == channel), None)
        if existing is not None:
            return await self._started(message, existing, new=False)
        request = RecordRequest(key=f"pubsub:{message_id}", guild_id=found.guild_id, voice_channel_id=channel,
                                requested_by=PUBSUB_REQUESTER, text_channel_id=message.text_channel_id,
                                max_duration=message.max_duration)
        outcome = await self.recordings.start(request)
        if outcome.result is StartResult.STARTED and outcome.recording is not None:
            return await self._started(message, outcome.recording, new=True)
        if outcome.result is StartResult.ALREADY_RECORDING and outcome.recording is not None:
            return await self._started(message, outcome.recording, new=False)
        if outcome.result is StartResult.GUILD_BUSY and outcome.recording is not None:
            other = outcome.recording
            return _Answer(Status.DROP, not_started(
                f"the bot is recording channel {other.voice_channel_id} of that server (id {other.recording_id}) "
                "and can be in one voice channel per server; stop that recording first"))
        if outcome.transient:
            log.warning("start failed for now: delivery retried", channel=channel, reason=outcome.reason)
            return _Answer(Status.RETRY)
        return _Answer(Status.DROP, not_started(outcome.reason or "the recorder stopped without saying why"))

    async def _started(self, message: StartMessage, recording: ActiveRecording, *, new: bool) -> _Answer:
        """Ack with every field as sent plus ``recordingId``; a failed publish is retried with the delivery (the
        start itself is idempotent, by message id and by channel)."""
        try:
            if new:
                await self._info(replies.STARTED.format(id=recording.recording_id), strict=True)
            await self.publisher.publish(topics.STARTED, {**message.payload, "recordingId": recording.recording_id})
        except Exception as error:
            log.warning("start ack not published: delivery retried", recording_id=recording.recording_id,
                        error=str(error))
            return _Answer(Status.RETRY)
        log.info("start acked", recording_id=recording.recording_id, channel=recording.voice_channel_id, new=new)
        return _Answer(Status.SUCCESS)

    async def _stop(self, data: Any) -> _Answer:
        try:
            message = parse_stop(data)
        except InvalidPayload as error:
            log.warning("stop refused", reason=str(error), payload=shown(data))
            return _Answer(Status.DROP, f"Couldn't stop recording, invalid stop payload {shown(data)}: {error}")
        running = [r for r in self.recordings.active()
                   if message.voice_channel_id is None or r.voice_channel_id == message.voice_channel_id]
        if not running:
            where = f" in channel {message.voice_channel_id}" if message.voice_channel_id else ""
            return _Answer(Status.DROP, f"No recording{where} to stop.")
        log.info("stopping", recordings=[r.recording_id for r in running], channel=message.voice_channel_id)
        # Each stop waits for its files; the stoppedRecordingDiscord acks come from on_ended, one per recording.
        await asyncio.gather(*(self.recordings.stop(r.recording_id) for r in running))
        return _Answer(Status.SUCCESS)

    # -- recordings that end, whatever ended them ------------------------------------------------------------

    async def _ended(self, summary: Summary) -> None:
        recording_id = summary.recording.recording_id
        if not recording_id:
            return
        task = asyncio.create_task(self._ack_ended(recording_id, replies.summary(summary)))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    async def _ack_ended(self, recording_id: str, text: str) -> None:
        await self._info(text)
        for attempt in range(ACK_ATTEMPTS):
            try:
                await self.publisher.publish(topics.STOPPED, {"ids": [recording_id]})
                log.info("stop acked", recording_id=recording_id)
                return
            except Exception as error:
                log.warning("stop ack not published, trying again", recording_id=recording_id, error=str(error))
                await self._sleep(2.0**attempt)
        log.error("stop ack never published", recording_id=recording_id)

    async def _info(self, text: str, *, strict: bool = False) -> None:
        try:
            await self.publisher.publish(topics.INFO, {"data": text})
        except Exception as error:
            if strict:
                raise
            log.warning("info message not published", error=str(error), text=text[:200])

    async def close(self) -> None:
        """Let the end acks in flight finish (a few seconds at most), then give up on them."""
        if self._acks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._acks, return_exceptions=True), 10)
