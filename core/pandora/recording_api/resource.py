"""The Recording resource: its API coordinates, its phases, and its spec."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GROUP = "pandora.dev"
VERSION = "v1alpha1"
PLURAL = "recordings"
KIND = "Recording"
API_VERSION = f"{GROUP}/{VERSION}"

# Which front door asked for a recording (spec.requestedBy.source).
REQUEST_SOURCES = ("kubectl", "pubsub", "text-command", "slash-command")
# The front doors that answer in Discord themselves: they reply when the recording starts and post its end summary
# (also after a restart, from the status). Their recorders post nothing, so a user reads one end message.
ANSWERED_IN_DISCORD = ("text-command", "slash-command")


class Phase(enum.StrEnum):
    PENDING = "Pending"
    STARTING = "Starting"
    RECORDING = "Recording"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    FAILED = "Failed"

    @property
    def terminal(self) -> bool:
        return self in (Phase.COMPLETED, Phase.FAILED)


@dataclass(frozen=True, slots=True)
class Requester:
    source: str  # one of REQUEST_SOURCES
    user_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RecordingSpec:
    guild_id: str
    voice_channel_id: str
    text_channel_id: str | None = None
    requested_by: Requester | None = None
    max_duration: int | None = None  # seconds
    stop: bool = False
    bot: str | None = None  # a bot pool key, pinned instead of chosen by the operator
    # Overrides of the operator's storage defaults.
    storage_binding: str | None = None
    storage_prefix: str | None = None

    @classmethod
    def from_resource(cls, spec: Mapping[str, Any]) -> RecordingSpec:
        requested = spec.get("requestedBy")
        storage = spec.get("storage") or {}
        return cls(
            guild_id=str(spec["guildId"]),
            voice_channel_id=str(spec["voiceChannelId"]),
            text_channel_id=spec.get("textChannelId"),
            requested_by=Requester(requested.get("source", ""), requested.get("userId"), requested.get("name"))
            if requested
            else None,
            max_duration=spec.get("maxDuration"),
            stop=bool(spec.get("stop", False)),
            bot=(spec.get("bot") or {}).get("name"),
            storage_binding=storage.get("binding"),
            storage_prefix=storage.get("prefix"),
        )

    def recorder_notice_channel(self) -> str | None:
        """Where the recorder posts its own end notice: the text channel, unless a Discord front door asked for the
        recording (it posts the summary there itself)."""
        if self.requested_by is not None and self.requested_by.source in ANSWERED_IN_DISCORD:
            return None
        return self.text_channel_id

    def to_resource(self) -> dict[str, Any]:
        """``spec`` as the API server takes it; fields at their defaults are left out."""
        spec: dict[str, Any] = {"guildId": self.guild_id, "voiceChannelId": self.voice_channel_id}
        if self.text_channel_id:
            spec["textChannelId"] = self.text_channel_id
        if self.requested_by:
            who = self.requested_by
            spec["requestedBy"] = _set({"source": who.source, "userId": who.user_id, "name": who.name})
        if self.max_duration:
            spec["maxDuration"] = self.max_duration
        if self.stop:
            spec["stop"] = True
        if self.bot:
            spec["bot"] = {"name": self.bot}
        if storage := _set({"binding": self.storage_binding, "prefix": self.storage_prefix}):
            spec["storage"] = storage
        return spec


def recording_resource(name: str, spec: RecordingSpec, namespace: str | None = None) -> dict[str, Any]:
    """A whole Recording, ready to create."""
    metadata = _set({"name": name, "namespace": namespace})
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec.to_resource()}


def _set(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
