"""The `Recording` resource as the operator sees it: API coordinates, phases, the spec, and derived names.

Everything here is pure (no I/O), so the rest of the control path can rely on one reading of a Recording.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pandora.recording_api import API_VERSION, GROUP, KIND, PLURAL, VERSION  # noqa: F401 (re-exported)

# Held while a recorder pod may still be writing: deleting a Recording first stops it gracefully.
FINALIZER = f"{GROUP}/recording"

# Labels on recorder pods: how the operator finds its children (server-side label selectors).
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "pandora-operator"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_RECORDING = "pandora.dev/recording"
LABEL_ATTEMPT = "pandora.dev/attempt"
LABEL_BOT = "pandora.dev/bot"
LABEL_GUILD = "pandora.dev/guild"
LABEL_CHANNEL = "pandora.dev/voice-channel"


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
class RecordingSpec:
    guild_id: str
    voice_channel_id: str
    text_channel_id: str | None = None
    requested_by: str | None = None
    max_duration: int | None = None
    stop: bool = False
    bot: str | None = None
    storage_binding: str | None = None
    storage_prefix: str | None = None

    @classmethod
    def from_body(cls, spec: Mapping[str, Any]) -> RecordingSpec:
        requested = spec.get("requestedBy") or {}
        return cls(
            guild_id=str(spec["guildId"]),
            voice_channel_id=str(spec["voiceChannelId"]),
            text_channel_id=spec.get("textChannelId"),
            requested_by=requested.get("userId"),
            max_duration=spec.get("maxDuration"),
            stop=bool(spec.get("stop", False)),
            bot=(spec.get("bot") or {}).get("name"),
            storage_binding=(spec.get("storage") or {}).get("binding"),
            storage_prefix=(spec.get("storage") or {}).get("prefix"),
        )


@dataclass(frozen=True, slots=True)
class RecordingKey:
    """Namespace and name: the identity the operator's in-memory bookkeeping uses."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def pod_name(recording_name: str, attempt: int) -> str:
    """Deterministic child name: one pod per attempt, so a restart never collides with the pod it replaces."""
    return f"{recording_name}-rec-{attempt}"


def recording_id_for(uid: str) -> str:
    """The numeric recording id, derived from the Recording's uid so every retry and restart agrees on it.

    15 hex digits of the uid give at most 18 decimal digits: it fits a signed 64-bit integer.
    """
    return str(int(uid.replace("-", "")[:15], 16))


def phase_of(status: Mapping[str, Any]) -> Phase | None:
    value = status.get("phase")
    return Phase(value) if value else None
