"""Writing `Recording.status` and posting Events about it.

The operator owns the lifecycle fields of ``RecordingStatus`` (all but ``RECORDER_FIELDS``, which the recorder
pod writes). Both write JSON merge patches to the status subresource, so neither overwrites the other.

Watch events for our own patches arrive later than the next reconcile may run, so the writer keeps what it
last wrote per Recording (an overlay over the indexed status): decisions and Event deduplication always see
the operator's latest word.
"""

from __future__ import annotations

import datetime

from pandora.recording_api.resource import Phase
from pandora.recording_api.status import Condition, RecordingStatus, utcnow
from pandora_operator.kube import KubeApi
from pandora_operator.views import RecordingView


def recording_condition(phase: Phase, message: str, generation: int) -> Condition:
    """One condition, ``Recording``: True while the recorder is in the channel."""
    return Condition(
        type="Recording",
        status="True" if phase is Phase.RECORDING else "False",
        reason=phase.value,
        message=message,
        last_transition_time=utcnow(),
        observed_generation=generation,
    )


class StatusWriter:
    def __init__(self, kube: KubeApi) -> None:
        self.kube = kube
        self._overlay: dict[str, RecordingStatus] = {}

    def effective(self, view: RecordingView) -> RecordingStatus:
        overlay = self._overlay.get(view.uid)
        return view.status.updated(overlay) if overlay else view.status

    def forget(self, uid: str) -> None:
        self._overlay.pop(uid, None)

    async def write(self, view: RecordingView, wanted: RecordingStatus) -> bool:
        """Patch the fields that differ from what the Recording already says; True when something changed."""
        current = self.effective(view)
        diff = wanted.changes_from(current)
        if diff.is_empty():
            return False
        patch = diff
        if diff.phase is not None or diff.message is not None:
            phase = diff.phase or current.phase or Phase.PENDING
            message = wanted.message if wanted.message is not None else current.message or ""
            patch = patch.updated(RecordingStatus(conditions=(recording_condition(phase, message, view.generation),)))
        patch = patch.updated(RecordingStatus(observed_generation=view.generation))
        await self.kube.patch_recording_status(view.key.namespace, view.key.name, patch)
        overlay = self._overlay.get(view.uid) or RecordingStatus()
        self._overlay[view.uid] = overlay.updated(diff)
        return True


def post_event(kube: KubeApi, view: RecordingView, reason: str, message: str, *, warning: bool = False) -> None:
    kube.post_event(view.reference(), "Warning" if warning else "Normal", reason, message)


def elapsed_seconds(status: RecordingStatus, until: datetime.datetime) -> int | None:
    started = status.started_at
    return max(0, int((until - started).total_seconds())) if started else None
