"""Reaction: a Recording is being deleted -> stop it like ``spec.stop`` before the finalizer lets it go.

The recorder gets SIGTERM and its grace period for the final flush; recorded files are never deleted (the
operator has no access to the object store at all).
"""

from __future__ import annotations

from typing import Any

import kopf

from pandora_operator.handlers.indexes import indexes, persisted_claims, pods_of
from pandora_operator.model import GROUP, PLURAL, VERSION
from pandora_operator.reconcile import Context, reconcile
from pandora_operator.views import RecordingView


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def recording_deleted(body: kopf.Body, memo: Any, **kwargs: Any) -> None:
    context: Context = memo.context
    recording_views, recorder_pods = indexes(kwargs)
    view = RecordingView.from_body(body)
    pods = pods_of(recorder_pods, view.key.namespace, view.key.name)
    phase = await reconcile(context, view, pods, lambda: persisted_claims(recording_views))
    if phase is None or not phase.terminal:
        raise kopf.TemporaryError("waiting for the recorder's final flush", delay=1)
    context.forget(view)
