"""What ``pandora bot`` is recording, kept so a restarted bot continues the same recordings (same ids).

A list of the running recordings, written whenever one starts or ends: a JSON file in the output folder, or one
key of a Dapr state store (``STORE_NAME``, as the original Pandora's ``RECORDING_BOT_STATE``; ours is
``pandora-bot-state`` and holds a list, so the two are never mistaken for each other).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from pandora_frontdoor.recordings import ActiveRecording, Requester, Source

STATE_FILE = ".pandora-bot-state.json"
STATE_KEY = "pandora-bot-state"


def to_json(recording: ActiveRecording) -> dict[str, Any]:
    by = recording.requested_by
    return {
        "recordingId": recording.recording_id,
        "key": recording.key,
        "guildId": str(recording.guild_id),
        "voiceChannelId": str(recording.voice_channel_id),
        "textChannelId": None if recording.text_channel_id is None else str(recording.text_channel_id),
        "requestedBy": {"source": by.source.value, "userId": None if by.user_id is None else str(by.user_id),
                        "name": by.name},
        "startedAt": recording.started_at,
    }


def from_json(value: dict[str, Any]) -> ActiveRecording:
    by = value.get("requestedBy") or {}
    text = value.get("textChannelId")
    return ActiveRecording(
        recording_id=str(value["recordingId"]),
        key=str(value["key"]),
        guild_id=int(value["guildId"]),
        voice_channel_id=int(value["voiceChannelId"]),
        requested_by=Requester(Source(by.get("source", Source.TEXT_COMMAND.value)),
                               int(by["userId"]) if by.get("userId") else None, by.get("name")),
        text_channel_id=int(text) if text else None,
        started_at=value.get("startedAt"),
    )


class StateStore(Protocol):
    def load(self) -> list[ActiveRecording]: ...

    def save(self, recordings: list[ActiveRecording]) -> None: ...


def _decode(text: bytes | str) -> list[ActiveRecording]:
    if not text:
        return []
    value = json.loads(text)
    return [from_json(item) for item in value.get("recordings", [])]


def _encode(recordings: list[ActiveRecording]) -> str:
    return json.dumps({"recordings": [to_json(r) for r in recordings]}, separators=(",", ":"))


class FileStateStore:
    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_FILE

    def load(self) -> list[ActiveRecording]:
        try:
            return _decode(self.path.read_bytes())
        except FileNotFoundError:
            return []

    def save(self, recordings: list[ActiveRecording]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(_encode(recordings))
        os.replace(temporary, self.path)  # a kill leaves the old list or the new one, never half of one


class DaprStateStore:
    """The list under one key of a Dapr state store, through the sidecar's HTTP API (no SDK needed)."""

    def __init__(self, store: str, endpoint: str, key: str = STATE_KEY) -> None:
        self.store, self.endpoint, self.key = store, endpoint.rstrip("/"), key

    def load(self) -> list[ActiveRecording]:
        import urllib.request

        with urllib.request.urlopen(f"{self.endpoint}/v1.0/state/{self.store}/{self.key}", timeout=10) as reply:
            return _decode(reply.read())

    def save(self, recordings: list[ActiveRecording]) -> None:
        import urllib.request

        body = json.dumps([{"key": self.key, "value": {"recordings": [to_json(r) for r in recordings]}}])
        request = urllib.request.Request(f"{self.endpoint}/v1.0/state/{self.store}", data=body.encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
