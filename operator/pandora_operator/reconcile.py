"""Level-triggered reconciliation of one Recording with its recorder pods.

Every trigger (a Recording event including deletion, a pod event, the sweeper) runs the same function on the latest
snapshot, so the outcome depends only on what exists, never on which event arrived: an operator restart at
any moment converges to the same state without duplicate pods. Each step is idempotent: pods have
deterministic names (409 means done, when the pod there is this Recording's), status writes are merge patches
of values, not increments.

The order of writes matters for crash safety: a pod is created *before* the status names it. So a status that
names a pod which is not there means the pod was lost, never "not created yet"; and a pod the status does not
name yet means the operator stopped between the two writes, and the status write is completed from the pod.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import kopf

from pandora.recording_api.resource import Phase
from pandora.recording_api.status import RecordingStatus, utcnow
from pandora_operator.botpool import BotPool
from pandora_operator.claims import Claims, PersistedClaim
from pandora_operator.config import OperatorConfig
from pandora_operator.kube import ApiError, KubeApi
from pandora_operator.model import FINALIZER, RecordingKey, pod_name, recording_id_for
from pandora_operator.podspec import build_recorder_pod
from pandora_operator.start_budget import StartBudget
from pandora_operator.status import StatusWriter, elapsed_seconds, post_event
from pandora_operator.views import PodView, RecordingView


@dataclass
class Context:
    """Everything the reconciler needs, made once at operator startup (kopf's ``memo``)."""

    config: OperatorConfig
    kube: KubeApi
    pool: BotPool
    claims: Claims = field(default_factory=Claims)
    max_restarts: int = 5
    starts: StartBudget = field(default_factory=StartBudget)  # recorder starts per bot over 24 h
    # uids whose finalizer this process added (the indexed view may not show it yet).
    finalized: set[str] = field(default_factory=set)
    # kopf's live indexes, remembered from the first handler call, for the sweeper.
    recording_views: kopf.Index | None = None
    recorder_pods: kopf.Index | None = None
    sweeper: asyncio.Task[None] | None = None
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = StatusWriter(self.kube)

    def lock(self, uid: str) -> asyncio.Lock:
        return self._locks.setdefault(uid, asyncio.Lock())

    def forget(self, view: RecordingView) -> None:
        self.claims.release(view.key)
        self.starts.forget(view)
        self.status.forget(view.uid)
        self.finalized.discard(view.uid)
        self._locks.pop(view.uid, None)

    def event(self, view: RecordingView, reason: str, message: str, *, warning: bool = False) -> None:
        post_event(self.kube, view, reason, message, warning=warning)


PersistedClaims = Callable[[], Iterable[PersistedClaim]]


async def reconcile(
    ctx: Context, view: RecordingView, pods: Sequence[PodView], persisted: PersistedClaims
) -> Phase | None:
    """Bring one Recording one step closer to what its spec asks; returns the phase it is in afterwards."""
    async with ctx.lock(view.uid):
        return await _reconcile(ctx, view, pods, persisted)


async def _reconcile(
    ctx: Context, view: RecordingView, pods: Sequence[PodView], persisted: PersistedClaims
) -> Phase | None:
    ctx.starts.seed(view)
    status = ctx.status.effective(view)
    own = await _own_pods(ctx, view, pods)

    if status.phase is not None and status.phase.terminal:
        ctx.claims.release(view.key)
        await _delete_all(ctx, view, [pod for pod in own if not pod.finished])
        if view.finalizer_index is not None:
            # Nothing runs any more: deleting the Recording need not wait for the operator.
            await ctx.kube.remove_finalizer(view.key.namespace, view.key.name, FINALIZER, view.finalizer_index)
        return status.phase

    holder = await _claim_channel(ctx, view, persisted)
    if holder is not None:
        return await _fail(
            ctx,
            view,
            f"voice channel {view.spec.voice_channel_id} is already being recorded by Recording {holder}; "
            f"stop or delete {holder.name} first, or wait until it completes",
        )

    if view.finalizer_index is None and not view.deleting and view.uid not in ctx.finalized:
        await ctx.kube.add_finalizer(view.key.namespace, view.key.name, FINALIZER, view.has_finalizers)
        ctx.finalized.add(view.uid)

    attempt = status.restarts or 0
    expected = pod_name(view.key.name, attempt)
    current = next((pod for pod in own if pod.name == expected), None)
    if current is None and status.pod == expected:
        current = await _read_pod(ctx, view, expected)  # the index may lag behind a pod just created
    await _delete_all(ctx, view, [pod for pod in own if pod.attempt < attempt])
    if current is not None and status.pod != expected:
        status = await _record_started_pod(ctx, view, status, current, attempt)

    if reason := _stop_reason(view, status):
        return await _stop(ctx, view, status, current, reason)
    if current is None and status.pod != expected:
        return await _start(ctx, view, status, attempt)
    if current is None or current.finished:
        return await _after_exit(ctx, view, status, current, attempt)
    return await _observe_running(ctx, view, status, current)


async def _own_pods(ctx: Context, view: RecordingView, pods: Sequence[PodView]) -> list[PodView]:
    """This Recording's pods; pods left by an earlier Recording of the same name are removed."""
    strangers = [pod for pod in pods if pod.owner_uid not in (view.uid, None)]
    await _delete_all(ctx, view, strangers)
    return [pod for pod in pods if pod.owner_uid in (view.uid, None)]


async def _read_pod(ctx: Context, view: RecordingView, name: str) -> PodView | None:
    body = await ctx.kube.read_pod(view.key.namespace, name)
    return PodView.from_body(body) if body else None


async def _delete_all(ctx: Context, view: RecordingView, pods: Iterable[PodView]) -> None:
    for pod in pods:
        if not pod.deleting:
            await ctx.kube.delete_pod(view.key.namespace, pod.name, ctx.config.stop_grace_seconds)


async def _claim_channel(ctx: Context, view: RecordingView, persisted: PersistedClaims) -> RecordingKey | None:
    async with ctx.claims.lock:
        ctx.claims.seed(persisted())
        holder = ctx.claims.claim_channel(view.spec.voice_channel_id, view.key)
    return None if holder == view.key else holder


def _stop_reason(view: RecordingView, status: RecordingStatus) -> str | None:
    if view.deleting:
        return "the Recording was deleted"
    if view.spec.stop:
        return "spec.stop was set"
    limit = view.spec.max_duration
    elapsed = elapsed_seconds(status, utcnow())
    if limit and elapsed is not None and elapsed >= limit:
        return f"maxDuration of {limit}s was reached"
    return None


def _started(ctx: Context, view: RecordingView, recording_id: str, attempt: int, bot: str | None) -> RecordingStatus:
    """What the status says once the attempt's pod exists."""
    pod = pod_name(view.key.name, attempt)
    return RecordingStatus(
        phase=Phase.STARTING,
        recording_id=recording_id,
        pod=pod,
        bot=bot,
        restarts=attempt,
        location=_location(ctx, view, recording_id),
        message=f"waiting for pod {pod} to run",
    )


async def _start(ctx: Context, view: RecordingView, status: RecordingStatus, attempt: int) -> Phase:
    async with ctx.claims.lock:
        choice = await ctx.pool.choose(ctx.claims, view.key, view.spec.guild_id, view.spec.bot)
    if choice.bot is None:
        if await ctx.status.write(view, RecordingStatus(phase=Phase.PENDING, message=choice.reason)):
            ctx.event(view, "Pending", choice.reason)
        return Phase.PENDING
    if refusal := ctx.starts.refusal(view.key.namespace, choice.bot):
        return await _retry_later(ctx, view, refusal)
    recording_id = status.recording_id or recording_id_for(view.uid)
    if problem := await _create_pod(ctx, view, recording_id, attempt, choice.bot):
        return await _retry_later(ctx, view, problem)
    await ctx.status.write(view, _started(ctx, view, recording_id, attempt, choice.bot))
    return Phase.STARTING


async def _record_started_pod(
    ctx: Context, view: RecordingView, status: RecordingStatus, pod: PodView, attempt: int
) -> RecordingStatus:
    """The attempt's pod exists but the status does not name it: the operator stopped between creating the pod
    and writing the status. Write what ``_start`` would have, with the bot the pod runs as."""
    recording_id = status.recording_id or recording_id_for(view.uid)
    await ctx.status.write(view, _started(ctx, view, recording_id, attempt, pod.bot))
    return ctx.status.effective(view)


async def _create_pod(
    ctx: Context, view: RecordingView, recording_id: str, attempt: int, bot: str
) -> str | None:
    """Create the attempt's pod (existing is fine); returns the API server's refusal, if any."""
    manifest = build_recorder_pod(
        recording=view.key.name,
        namespace=view.key.namespace,
        spec=view.spec,
        recording_id=recording_id,
        attempt=attempt,
        bot=bot,
        config=ctx.config,
    )
    # Not kopf.adopt(forced=True): that would rename the pod after its owner, and each attempt needs its own
    # name. The owner reference alone gives garbage collection and `kubectl get pods` ownership.
    kopf.append_owner_reference(manifest, owner=view.reference())
    name = manifest["metadata"]["name"]
    try:
        created = await ctx.kube.create_pod(manifest)
    except ApiError as error:
        if error.status >= 500 or error.status in (403, 404, 422):
            return f"cannot create pod {name}: {error.message}"
        raise
    if created:
        ctx.starts.record(view.key.namespace, bot)
    if not created:
        # Ours from an earlier try, or still the pod of a deleted Recording of the same name.
        existing = await _read_pod(ctx, view, name)
        if existing is not None and existing.owner_uid not in (view.uid, None):
            return f"pod {name} of an earlier Recording named {view.key.name} is still being deleted"
    return None


async def _retry_later(ctx: Context, view: RecordingView, problem: str) -> Phase:
    """Pending (the sweeper retries every second) with the reason in the status, e.g. a missing ServiceAccount."""
    if await ctx.status.write(view, RecordingStatus(phase=Phase.PENDING, message=f"{problem}; retrying")):
        ctx.event(view, "Pending", problem, warning=True)
    return Phase.PENDING


async def _observe_running(ctx: Context, view: RecordingView, status: RecordingStatus, pod: PodView) -> Phase:
    if pod.phase != "Running":
        if pod.waiting:
            await ctx.status.write(view, RecordingStatus(
                phase=Phase.STARTING, message=f"waiting for pod {pod.name} to run: {pod.waiting}"
            ))
        return status.phase or Phase.STARTING
    first_start = status.started_at is None
    changed = await ctx.status.write(view, RecordingStatus(
        phase=Phase.RECORDING,
        started_at=status.started_at or pod.started_at or utcnow(),
        message=f"recording voice channel {view.spec.voice_channel_id} with bot {status.bot}",
    ))
    if changed and first_start:
        ctx.event(view, "Started", f"recording {status.recording_id} started in pod {pod.name}")
    return Phase.RECORDING


async def _after_exit(
    ctx: Context, view: RecordingView, status: RecordingStatus, pod: PodView | None, attempt: int
) -> Phase:
    """The recorder's pod ended without being asked to: done on its own, crashed, or lost."""
    # A pod deleted by someone else (kubectl delete, eviction, a node drain) gets SIGTERM, flushes and exits 0:
    # the recording was interrupted, not finished, so it continues like a lost pod.
    if pod is not None and pod.succeeded and not pod.deleting:
        return await _complete(ctx, view, status, "the recorder finished on its own (time limit or empty channel)")
    how = "was lost (deleted or evicted)" if pod is None or pod.deleting else f"crashed ({_exit_description(pod)})"
    if attempt >= ctx.max_restarts:
        return await _fail(
            ctx, view, f"the recorder {how} after {attempt} restarts; giving up. Files so far are kept at "
            f"{status.location}"
        )
    next_attempt = attempt + 1
    recording_id = status.recording_id or recording_id_for(view.uid)
    if status.bot is None:
        raise RuntimeError(f"Recording {view.key} names pod {status.pod} but no bot")  # written together
    if refusal := ctx.starts.refusal(view.key.namespace, status.bot):
        return await _retry_later(ctx, view, f"the recorder {how}; {refusal}")
    if problem := await _create_pod(ctx, view, recording_id, next_attempt, status.bot):
        return await _retry_later(ctx, view, problem)
    next_pod = pod_name(view.key.name, next_attempt)
    await ctx.status.write(view, RecordingStatus(
        phase=Phase.STARTING,
        pod=next_pod,
        restarts=next_attempt,
        message=f"the recorder {how}; restarted as pod {next_pod}, continuing recording {recording_id}",
    ))
    ctx.event(
        view,
        "Restarted",
        f"the recorder {how}; pod {next_pod} continues recording {recording_id} (restart {next_attempt})",
        warning=True,
    )
    return Phase.STARTING


async def _stop(
    ctx: Context, view: RecordingView, status: RecordingStatus, pod: PodView | None, reason: str
) -> Phase:
    if pod is not None and not pod.finished:
        if not pod.deleting:
            # Deleting the pod sends SIGTERM: the recorder flushes and exits within the grace period.
            await ctx.kube.delete_pod(view.key.namespace, pod.name, ctx.config.stop_grace_seconds)
        if await ctx.status.write(view, RecordingStatus(
            phase=Phase.STOPPING, message=f"stopping because {reason}; waiting for the recorder's final flush"
        )):
            ctx.event(view, "Stopping", f"stopping because {reason}")
        return Phase.STOPPING
    if pod is not None and not pod.succeeded and pod.exit_code not in (None, 0):
        return await _fail(
            ctx, view, f"the recorder {_exit_description(pod)} while stopping; files written so far are kept at "
            f"{status.location}"
        )
    if not status.pod:
        return await _complete(ctx, view, status, f"stopped before recording began, because {reason}")
    return await _complete(ctx, view, status, f"stopped because {reason}")


async def _complete(ctx: Context, view: RecordingView, status: RecordingStatus, why: str) -> Phase:
    ended = utcnow()
    duration = None
    if status.location:
        message = f"{why}; recording {status.recording_id} is kept at {status.location}"
        if not status.duration:
            duration = elapsed_seconds(status, ended)
    else:
        message = f"{why}; nothing was recorded"
    if await ctx.status.write(view, RecordingStatus(
        phase=Phase.COMPLETED, ended_at=ended, message=message, duration=duration
    )):
        ctx.event(view, "Stopped", message)
    ctx.claims.release(view.key)
    return Phase.COMPLETED


async def _fail(ctx: Context, view: RecordingView, message: str) -> Phase:
    if await ctx.status.write(view, RecordingStatus(phase=Phase.FAILED, ended_at=utcnow(), message=message)):
        ctx.event(view, "Failed", message, warning=True)
    ctx.claims.release(view.key)
    return Phase.FAILED


def _exit_description(pod: PodView) -> str:
    code = "unknown exit code" if pod.exit_code is None else f"exit code {pod.exit_code}"
    return f"{code}, {pod.reason}" if pod.reason else code


def _location(ctx: Context, view: RecordingView, recording_id: str) -> str:
    return ctx.config.location(view.spec.storage_binding, view.spec.storage_prefix, recording_id)
