"""Reaction: any change to a Recording (created, edited, stopped, status written) -> reconcile it."""

from __future__ import annotations

from typing import Any

import kopf

from pandora.recording_api.resource import GROUP, PLURAL, VERSION
from pandora_operator.handlers.indexes import indexes, persisted_claims, pods_of
from pandora_operator.reconcile import Context, reconcile
from pandora_operator.sweeper import ensure_sweeping
from pandora_operator.views import RecordingView


@kopf.on.event(GROUP, VERSION, PLURAL)
async def recording_changed(event: kopf.RawEvent, memo: Any, **kwargs: Any) -> None:
    context: Context = memo.context
    view = RecordingView.from_body(event["object"])
    if event["type"] == "DELETED":
        context.forget(view)
        return
    recording_views, recorder_pods = indexes(kwargs)
    context.recording_views, context.recorder_pods = recording_views, recorder_pods
    ensure_sweeping(context)
    pods = pods_of(recorder_pods, view.key.namespace, view.key.name)
    await reconcile(context, view, pods, lambda: persisted_claims(recording_views, recorder_pods))
