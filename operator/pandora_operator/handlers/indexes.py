"""In-memory indexes kopf keeps current from its watches: Recordings by key, recorder pods by Recording.

kopf fills every index from the initial listing before it calls any handler, which is what lets the bot and
channel claims be rebuilt from persisted statuses after an operator restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kopf

from pandora.recording_api.resource import GROUP, PLURAL, VERSION
from pandora_operator.claims import PersistedClaim
from pandora_operator.model import LABEL_MANAGED_BY, LABEL_RECORDING, MANAGED_BY
from pandora_operator.views import PodView, RecordingView


@kopf.index(GROUP, VERSION, PLURAL)
def recording_views(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict:
    return {(namespace, name): RecordingView.from_body(body)}


@kopf.index("v1", "pods", labels={LABEL_MANAGED_BY: MANAGED_BY})
def recorder_pods(namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict:
    return {(namespace, labels.get(LABEL_RECORDING, "")): PodView.from_body(body)}


def indexes(kwargs: dict[str, Any]) -> tuple[kopf.Index, kopf.Index]:
    """The two indexes, as kopf passes them to every handler (by the indexing functions' names)."""
    return kwargs["recording_views"], kwargs["recorder_pods"]


def pods_of(index: kopf.Index, namespace: str, name: str) -> list[PodView]:
    return list(index.get((namespace, name), ()))


def view_of(index: kopf.Index, namespace: str, name: str) -> RecordingView | None:
    return next(iter(index.get((namespace, name), ())), None)


def persisted_claims(recording_views: kopf.Index, recorder_pods: kopf.Index) -> Iterator[PersistedClaim]:
    """What active Recordings hold, for rebuilding claims after a restart: their statuses' bots, or the bot of a pod
    the status does not name yet (the operator creates the pod first, then writes the status)."""
    for store in recording_views.values():
        for view in store:
            phase = view.status.phase
            if phase is not None and phase.terminal:
                continue
            pods = [pod for pod in pods_of(recorder_pods, view.key.namespace, view.key.name)
                    if pod.owner_uid in (view.uid, None) and not pod.finished]
            if phase is None and not pods:
                continue  # nothing was ever started for it
            bot = view.status.bot or next((pod.bot for pod in sorted(pods, key=lambda pod: -pod.attempt)), None)
            yield PersistedClaim(key=view.key, guild=view.spec.guild_id, channel=view.spec.voice_channel_id, bot=bot)
