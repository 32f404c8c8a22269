"""Compact, immutable snapshots of Recordings and recorder pods, as kept in the operator's kopf indexes.

Only what the reconciler reads is copied, so a thousand Recordings cost little memory and a snapshot never
changes under the reconciler's feet.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from pandora.recording_api.resource import API_VERSION, KIND, RecordingSpec
from pandora.recording_api.status import RecordingStatus, parse_time
from pandora_operator.model import FINALIZER, LABEL_ATTEMPT, LABEL_BOT, RecordingKey


@dataclass(frozen=True, slots=True)
class RecordingView:
    key: RecordingKey
    uid: str
    generation: int
    deleting: bool
    # Index of our finalizer in metadata.finalizers, or None.
    finalizer_index: int | None
    has_finalizers: bool
    spec: RecordingSpec
    status: RecordingStatus

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RecordingView:
        metadata = body["metadata"]
        return cls(
            key=RecordingKey(metadata["namespace"], metadata["name"]),
            uid=metadata["uid"],
            generation=int(metadata.get("generation") or 0),
            deleting=bool(metadata.get("deletionTimestamp")),
            finalizer_index=_index_of(metadata.get("finalizers") or [], FINALIZER),
            has_finalizers=bool(metadata.get("finalizers")),
            spec=RecordingSpec.from_resource(body.get("spec") or {}),
            status=RecordingStatus.from_resource(body.get("status")),
        )

    def reference(self) -> kopf.Body:
        """Enough of the object for kopf to post Events about it and to own pods."""
        return kopf.Body({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.key.name, "namespace": self.key.namespace, "uid": self.uid},
        })  # type: ignore[typeddict-item]


@dataclass(frozen=True, slots=True)
class PodView:
    name: str
    attempt: int
    owner_uid: str | None
    phase: str  # Pending, Running, Succeeded, Failed or Unknown
    deleting: bool = False
    exit_code: int | None = None
    reason: str = ""
    started_at: datetime.datetime | None = None
    # Why a pod that is not running yet is waiting (unschedulable, image pull, config error), in the words of
    # the scheduler or kubelet; empty when there is nothing to say.
    waiting: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        # The recorder container's end is the recording's: the kubelet stops the daprd sidecar only after it,
        # and the pod's phase follows later still; nothing of the recording waits for that. Reacting to the
        # container brought the next pod 1.4 s after a SIGKILL instead of 2.8 s on a real node.
        return self.phase in ("Succeeded", "Failed") or self.exit_code is not None

    @property
    def succeeded(self) -> bool:
        """The recorder exited 0 (the pod's phase may not say so yet)."""
        return self.phase == "Succeeded" or (self.phase != "Failed" and self.exit_code == 0)

    @property
    def bot(self) -> str | None:
        """The bot the pod logs in as: the first persisted record of a bot claim (the status follows)."""
        return self.labels.get(LABEL_BOT)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> PodView:
        metadata = body["metadata"]
        status = body.get("status") or {}
        owners = [ref for ref in metadata.get("ownerReferences") or () if ref.get("kind") == KIND]
        terminated = _terminated_state(status)
        running_since = _running_since(status)
        return cls(
            name=metadata["name"],
            attempt=int((metadata.get("labels") or {}).get(LABEL_ATTEMPT, "0")),
            owner_uid=owners[0]["uid"] if owners else None,
            phase=status.get("phase") or "Pending",
            deleting=bool(metadata.get("deletionTimestamp")),
            exit_code=terminated.get("exitCode") if terminated else None,
            reason=(terminated or {}).get("reason") or status.get("reason") or "",
            started_at=parse_time(running_since) if running_since else None,
            waiting=_waiting_reason(status),
            labels=dict(metadata.get("labels") or {}),
        )


def _index_of(items: list[str], wanted: str) -> int | None:
    return items.index(wanted) if wanted in items else None


def _container_statuses(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [entry for entry in status.get("containerStatuses") or () if entry.get("name") == "recorder"]


def _terminated_state(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for entry in _container_statuses(status):
        if terminated := (entry.get("state") or {}).get("terminated"):
            return terminated
    return None


def _waiting_reason(status: Mapping[str, Any]) -> str:
    for entry in _container_statuses(status):
        if waiting := (entry.get("state") or {}).get("waiting"):
            return ": ".join(part for part in (waiting.get("reason"), waiting.get("message")) if part)
    for condition in status.get("conditions") or ():
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return ": ".join(part for part in (condition.get("reason"), condition.get("message")) if part)
    return ""


def _running_since(status: Mapping[str, Any]) -> str | None:
    for entry in _container_statuses(status):
        if running := (entry.get("state") or {}).get("running"):
            return running.get("startedAt")
    return status.get("startTime") if status.get("phase") == "Running" else None
