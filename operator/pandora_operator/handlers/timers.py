"""Reaction: time passes -> retry Recordings waiting for a free bot, and stop those past maxDuration.

The timer runs only for Recordings that time can change (``needs_timer``), so a thousand steady recordings
cost no periodic work.
"""

from __future__ import annotations

from typing import Any

import kopf

from pandora_operator.handlers.indexes import indexes, persisted_claims, pods_of
from pandora_operator.model import GROUP, PLURAL, VERSION
from pandora_operator.reconcile import Context, needs_timer, reconcile
from pandora_operator.status import utcnow
from pandora_operator.views import RecordingView


def _time_sensitive(spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    return needs_timer(dict(status), spec.get("maxDuration"), utcnow())


@kopf.timer(GROUP, VERSION, PLURAL, interval=1.0, when=_time_sensitive)
async def time_passed(body: kopf.Body, memo: Any, **kwargs: Any) -> None:
    context: Context = memo.context
    recording_views, recorder_pods = indexes(kwargs)
    view = RecordingView.from_body(body)
    pods = pods_of(recorder_pods, view.key.namespace, view.key.name)
    await reconcile(context, view, pods, lambda: persisted_claims(recording_views))
