"""Writing `Recording.status` and posting Events about it.

The operator owns the lifecycle fields (phase, pod, bot, recordingId, startedAt, endedAt, restarts, location,
message, conditions); the recorder owns its progress fields (speakers, speakerCount, bytes, duration,
progressAt). Both write JSON merge patches to the status subresource, so neither overwrites the other.

Watch events for our own patches arrive later than the next reconcile may run, so the writer keeps what it
last wrote per Recording (an overlay over the indexed status): decisions and Event deduplication always see
the operator's latest word.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import kopf

from pandora_operator.kube import Kube
from pandora_operator.model import Phase
from pandora_operator.views import RecordingView

OPERATOR_FIELDS = (
    "phase", "pod", "bot", "recordingId", "startedAt", "endedAt", "restarts", "location", "message",
)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def timestamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def recording_condition(phase: Phase, message: str, generation: int) -> dict[str, Any]:
    """One condition, ``Recording``: True while the recorder is in the channel."""
    return {
        "type": "Recording",
        "status": "True" if phase is Phase.RECORDING else "False",
        "reason": phase.value,
        "message": message,
        "lastTransitionTime": timestamp(utcnow()),
        "observedGeneration": generation,
    }


class StatusWriter:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._overlay: dict[str, dict[str, Any]] = {}

    def effective(self, view: RecordingView) -> dict[str, Any]:
        return {**view.status, **self._overlay.get(view.uid, {})}

    def forget(self, uid: str) -> None:
        self._overlay.pop(uid, None)

    async def write(self, view: RecordingView, **changes: Any) -> bool:
        """Patch the fields that differ from what the Recording already says; True when something changed."""
        current = self.effective(view)
        diff = {name: value for name, value in changes.items() if current.get(name) != value}
        if not diff:
            return False
        phase = Phase(diff.get("phase") or current["phase"])
        patch: dict[str, Any] = dict(diff)
        if "phase" in diff or "message" in diff:
            message = changes.get("message", current.get("message", ""))
            patch["conditions"] = [recording_condition(phase, message, view.generation)]
        patch["observedGeneration"] = view.generation
        await self.kube.patch_recording_status(view.key.namespace, view.key.name, patch)
        self._overlay.setdefault(view.uid, {}).update(diff)
        return True


def post_event(view: RecordingView, reason: str, message: str, *, warning: bool = False) -> None:
    """A Kubernetes Event on the Recording (queued; kopf posts it in the background)."""
    kopf.event(view.reference(), type="Warning" if warning else "Normal", reason=reason, message=message)


def elapsed_seconds(status: Mapping[str, Any], until: datetime.datetime) -> int | None:
    started = status.get("startedAt")
    return max(0, int((until - parse_timestamp(started)).total_seconds())) if started else None
