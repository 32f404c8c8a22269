"""Reaction: a recorder pod changed (scheduled, running, exited, deleted) -> reconcile its Recording."""

from __future__ import annotations

from typing import Any

import kopf

from pandora_operator.handlers.indexes import indexes, persisted_claims, pods_of, view_of
from pandora_operator.model import LABEL_MANAGED_BY, LABEL_RECORDING, MANAGED_BY
from pandora_operator.reconcile import Context, reconcile
from pandora_operator.sweeper import ensure_sweeping


@kopf.on.event("v1", "pods", labels={LABEL_MANAGED_BY: MANAGED_BY})
async def recorder_pod_changed(
    namespace: str | None, name: str, labels: kopf.Labels, memo: Any, logger: Any, **kwargs: Any
) -> None:
    context: Context = memo.context
    recording_views, recorder_pods = indexes(kwargs)
    context.recording_views, context.recorder_pods = recording_views, recorder_pods
    ensure_sweeping(context)
    recording = labels.get(LABEL_RECORDING, "")
    namespace = namespace or ""
    view = view_of(recording_views, namespace, recording)
    if view is None:
        # Without controller-manager garbage collection an orphan would live on; remove it here.
        if not await context.kube.recording_exists(namespace, recording):
            logger.info("deleting orphan recorder pod %s: Recording %s is gone", name, recording)
            await context.kube.delete_pod(namespace, name, context.config.stop_grace_seconds)
        return
    pods = pods_of(recorder_pods, namespace, recording)
    await reconcile(context, view, pods, lambda: persisted_claims(recording_views, recorder_pods))
