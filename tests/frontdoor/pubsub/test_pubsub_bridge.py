"""The bridge's answers to Dapr, through its HTTP app (aiohttp's test client), on fakes of the interfaces it owns:
Recordings, the channel lookup and the publisher. The real sidecar path is test_pubsub_bot.py."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from desk_fakes import FakeRecordings

from pandora_frontdoor.desk import ChannelFacts, ChannelKind
from pandora_frontdoor.pubsub import topics
from pandora_frontdoor.pubsub.app import START_ROUTE, STOP_ROUTE, subscription_app
from pandora_frontdoor.pubsub.bridge import PubSubBridge
from pandora_frontdoor.pubsub.lookup import FoundChannel, LookupUnavailable
from pandora_frontdoor.recordings import StartOutcome, StartResult

GUILD, VOICE = 700000000000000001, 700000000000000002


@dataclass
class FakeLookup:
    unavailable: bool = False

    async def voice_channel(self, channel_id: int) -> FoundChannel | None:
        if self.unavailable:
            raise LookupUnavailable("Discord did not answer")
        if channel_id != VOICE:
            return None
        return FoundChannel(GUILD, ChannelFacts(VOICE, ChannelKind.VOICE, "voice"))


@dataclass
class FakePublisher:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failing: bool = False

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        if self.failing:
            raise OSError("the sidecar is gone")
        self.published.append((topic, data))

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [data for name, data in self.published if name == topic]


def cloud_event(data: Any, event_id: str = "m-1", *, published: datetime | None = None) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "type": "com.dapr.event.sent", "source": "backend",
            "datacontenttype": "application/json", "data": data, "topic": topics.START, "pubsubname": "pubsub",
            "time": (published or datetime.now(UTC)).isoformat().replace("+00:00", "Z")}


@pytest.fixture
async def door():
    recordings, lookup, publisher = FakeRecordings(), FakeLookup(), FakePublisher()

    async def no_sleep(_seconds: float) -> None:
        return None

    bridge = PubSubBridge(recordings, lookup, publisher, sleep=no_sleep)
    client = TestClient(TestServer(subscription_app(bridge, "pandora-pubsub")))
    await client.start_server()
    yield client, recordings, lookup, publisher
    await client.close()


async def deliver(client: TestClient, route: str, body: Any) -> str:
    response = await client.post(route, data=body if isinstance(body, bytes) else json.dumps(body),
                                 headers={"Content-Type": "application/cloudevents+json"})
    assert response.status == 200
    return str((await response.json())["status"])


async def test_the_subscription_lists_the_two_topics_the_original_subscribes(door) -> None:
    client, *_ = door
    listed = await (await client.get("/dapr/subscribe")).json()
    assert listed == [
        {"pubsubname": "pandora-pubsub", "topic": "startRecordingDiscord", "route": START_ROUTE},
        {"pubsubname": "pandora-pubsub", "topic": "stopRecordingDiscord", "route": STOP_ROUTE},
    ]


async def test_a_start_is_acked_with_the_payload_as_sent_and_a_redelivery_does_nothing_more(door) -> None:
    client, recordings, _, publisher = door
    payload = {"voiceChannelId": str(VOICE), "correlation": {"job": 7}}
    assert await deliver(client, START_ROUTE, cloud_event(payload)) == "SUCCESS"
    assert await deliver(client, START_ROUTE, cloud_event(payload)) == "SUCCESS"
    assert publisher.of(topics.STARTED) == [{**payload, "recordingId": "1001"}]
    assert [r.key for r in recordings.requests] == ["pubsub:m-1"]
    assert publisher.of(topics.INFO) == [{"data": "Recording started with id 1001"}]


async def test_a_redelivery_while_the_first_is_starting_waits_for_it_and_starts_nothing(door) -> None:
    client, recordings, _, publisher = door
    recordings.start_delay = 0.3
    statuses = await asyncio.gather(*(deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}))
                                      for _ in range(3)))
    assert statuses == ["SUCCESS"] * 3
    assert len(recordings.requests) == 1 and len(publisher.of(topics.STARTED)) == 1


async def test_another_start_for_a_recorded_channel_acks_the_running_recording(door) -> None:
    client, recordings, _, publisher = door
    await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "m-1"))
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "m-2")) == "SUCCESS"
    assert [ack["recordingId"] for ack in publisher.of(topics.STARTED)] == ["1001", "1001"]
    assert len(recordings.requests) == 1


async def test_transient_failures_are_retried_and_a_failed_recorder_is_dropped_with_why(door) -> None:
    client, recordings, lookup, publisher = door
    lookup.unavailable = True
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "a")) == "RETRY"
    lookup.unavailable = False
    recordings.next_outcome = StartOutcome(StartResult.FAILED, reason="the API server did not answer",
                                           transient=True)
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "a")) == "RETRY"
    recordings.next_outcome = StartOutcome(StartResult.FAILED, reason="I could not join the voice channel")
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "a")) == "DROP"
    assert publisher.of(topics.INFO) == [{"data": "Couldn't start recording: I could not join the voice channel."}]
    recordings.next_outcome = None
    # The ack cannot be published: retried, and the redelivery acks the same recording.
    publisher.failing = True
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "b")) == "RETRY"
    publisher.failing = False
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "b")) == "SUCCESS"
    (recording,) = recordings.recordings
    assert [ack["recordingId"] for ack in publisher.of(topics.STARTED)] == [recording.recording_id]


async def test_payloads_arrive_as_json_text_or_base64_and_a_broken_body_is_dropped(door) -> None:
    client, recordings, *_ = door
    as_text = cloud_event(json.dumps({"voiceChannelId": str(VOICE)}), "t")
    assert await deliver(client, START_ROUTE, as_text) == "SUCCESS"
    await deliver(client, STOP_ROUTE, cloud_event(None, "s"))
    encoded = {**cloud_event(None, "b64"), "data_base64": base64.b64encode(
        json.dumps({"voiceChannelId": str(VOICE)}).encode()).decode()}
    del encoded["data"]
    assert await deliver(client, START_ROUTE, encoded) == "SUCCESS"
    assert await deliver(client, START_ROUTE, b"{not json") == "DROP"
    assert len(recordings.requests) == 2


async def test_stops_end_the_named_channel_or_everything_and_every_ending_is_acked(door) -> None:
    client, recordings, _, publisher = door
    await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "go"))
    assert await deliver(client, STOP_ROUTE, cloud_event({"voiceChannelId": "700000000000000009"}, "x")) == "DROP"
    assert publisher.of(topics.INFO)[-1] == {"data": "No recording in channel 700000000000000009 to stop."}
    assert await deliver(client, STOP_ROUTE, cloud_event({"voiceChannelId": 5}, "y")) == "DROP"
    assert await deliver(client, STOP_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "z")) == "SUCCESS"
    await asyncio.sleep(0.05)  # the end ack is published beside the listener
    assert publisher.of(topics.STOPPED) == [{"ids": ["1001"]}]
    assert recordings.stopped == ["1001"]
    # A recording that ended by itself (a limit, a command) is acked as well.
    await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "again"))
    await recordings.end(recordings.recordings[0], message="it reached its maximum duration")
    await asyncio.sleep(0.05)
    assert publisher.of(topics.STOPPED)[-1] == {"ids": ["1002"]}


async def test_a_message_published_long_ago_is_dropped_as_stale(door) -> None:
    # A subscriber with a new app id reads a Redis stream from its beginning: old starts must not record.
    client, recordings, _, publisher = door
    old = datetime.now(UTC) - timedelta(hours=3)
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "old",
                                                          published=old)) == "DROP"
    assert await deliver(client, STOP_ROUTE, cloud_event(None, "old-stop", published=old)) == "DROP"
    assert recordings.requests == [] and publisher.of(topics.STARTED) == []
    assert publisher.of(topics.INFO)[0]["data"].startswith("Couldn't start recording: the request was published 1")
    recent = datetime.now(UTC) - timedelta(minutes=2)
    assert await deliver(client, START_ROUTE, cloud_event({"voiceChannelId": str(VOICE)}, "new",
                                                          published=recent)) == "SUCCESS"
