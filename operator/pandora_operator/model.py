"""What the operator derives from a Recording: its finalizer, its pods' labels and names, its recording id.

The Recording itself (coordinates, phases, spec, status) is ``pandora.recording_api``; everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from pandora.recording_api.resource import GROUP

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
