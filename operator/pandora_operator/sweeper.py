"""What time alone changes: Recordings waiting for a free bot, and Recordings past their maxDuration.

One task for the whole operator walks kopf's in-memory index once a second and reconciles only those
Recordings, instead of a kopf timer per Recording (each of which would add a finalizer and a task per object).
"""

from __future__ import annotations

import asyncio
import logging

from pandora.recording_api.resource import Phase
from pandora.recording_api.status import RecordingStatus
from pandora_operator.handlers.indexes import persisted_claims, pods_of
from pandora_operator.reconcile import Context, reconcile

log = logging.getLogger(__name__)


def ensure_sweeping(context: Context) -> None:
    """Start the sweeper from inside a kopf handler: the task copies that context, which kopf's Event posting
    (kopf.event) needs; a task made in a startup activity lacks it."""
    if context.sweeper is None or context.sweeper.done():
        context.sweeper = asyncio.create_task(sweep_forever(context), name="pandora-sweeper")


async def sweep_forever(context: Context, interval: float = 1.0) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep(context)
        except Exception:  # the sweeper must outlive any one pass
            log.exception("sweep failed")


async def sweep(context: Context) -> None:
    views, pods = context.recording_views, context.recorder_pods
    if views is None or pods is None:
        return
    for store in list(views.values()):
        for view in list(store):
            if not time_can_change(context.status.effective(view), view.spec.max_duration):
                continue
            try:
                await reconcile(
                    context, view, pods_of(pods, view.key.namespace, view.key.name),
                    lambda: persisted_claims(views, pods),
                )
            except Exception:  # one bad Recording must not hold up the others, in this sweep or the next
                log.exception("sweeping %s failed", view.key)


def time_can_change(status: RecordingStatus, max_duration: int | None) -> bool:
    """Waiting for a bot (or a retry), or running under a time limit."""
    if status.phase is Phase.PENDING:
        return True
    return bool(max_duration) and status.phase in (Phase.STARTING, Phase.RECORDING)
