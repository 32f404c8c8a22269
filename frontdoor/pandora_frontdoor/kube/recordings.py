"""``KubernetesRecordings``: recordings as ``Recording`` resources, learnt only from their ``status``.

A start creates a Recording named after the event that asked (so a second delivery of one interaction or message
is the same Recording), then waits until the status says the recorder is capturing: phase ``Recording`` with a
progress report from the recorder pod itself (``progressAt``). A stop sets ``spec.stop: true`` and waits for
``Completed`` (or ``Failed``). One list-then-watch of the namespace keeps a cache that answers ``active()`` at
once and wakes the waiting starts and stops; a restarted front door rebuilds it from the resources, so it still
finds, ends and announces the recordings it had started. An ended recording is announced once: an annotation on
the resource remembers it across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from pandora.logging import get_logger
from pandora.recording_api.resource import Phase, RecordingSpec, recording_resource
from pandora.recording_api.resource import Requester as SpecRequester
from pandora.recording_api.status import RecordingStatus
from pandora_frontdoor.kube.api import ApiError, Gone, RecordingsApi
from pandora_frontdoor.recordings import (
    ActiveRecording,
    EndListener,
    RecordRequest,
    Requester,
    Source,
    StartOutcome,
    StartResult,
    Summary,
)

log = get_logger(__name__)

START_TIMEOUT = 120.0  # a recorder pod that is not capturing by then is stopped and the start reported failed
STOP_TIMEOUT = 120.0
ANNOUNCE_WINDOW = 3600.0  # after a restart, endings older than this are not announced any more
RETRY_SECONDS = 2.0
NAME_LIMIT = 50  # the CRD's limit: recorder pods are named <name>-rec-<attempt>
ANNOUNCED = "pandora.dev/end-announced"
REQUEST_KEY = "pandora.dev/request-key"


def recording_name(key: str) -> str:
    """A valid, deterministic resource name for a request key (``interaction:123`` -> ``interaction-123``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "request"
    if len(name) > NAME_LIMIT:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        name = f"{name[: NAME_LIMIT - 17].rstrip('-')}-{digest}"
    return name


@dataclass(frozen=True)
class RecordingView:
    """One Recording as last seen."""

    name: str
    uid: str
    spec: RecordingSpec
    status: RecordingStatus
    annotations: Mapping[str, str]

    @classmethod
    def from_resource(cls, body: Mapping[str, Any]) -> RecordingView:
        metadata = body.get("metadata") or {}
        return cls(str(metadata["name"]), str(metadata.get("uid", "")), RecordingSpec.from_resource(body["spec"]),
                   RecordingStatus.from_resource(body.get("status")), dict(metadata.get("annotations") or {}))

    @property
    def ended(self) -> bool:
        return self.status.phase is not None and self.status.phase.terminal

    @property
    def capturing(self) -> bool:
        return self.status.phase is Phase.RECORDING and self.status.progress_at is not None

    def recording(self) -> ActiveRecording:
        who = self.spec.requested_by
        try:
            source = Source(who.source) if who else Source.KUBECTL
        except ValueError:
            source = Source.KUBECTL
        return ActiveRecording(
            recording_id=self.status.recording_id or "",
            key=self.annotations.get(REQUEST_KEY, self.name),
            guild_id=int(self.spec.guild_id),
            voice_channel_id=int(self.spec.voice_channel_id),
            requested_by=Requester(source, int(who.user_id) if who and who.user_id else None,
                                   who.name if who else None),
            text_channel_id=int(self.spec.text_channel_id) if self.spec.text_channel_id else None,
            started_at=self.status.started_at.timestamp() if self.status.started_at else None,
        )

    def summary(self) -> Summary:
        status = self.status
        completed = status.phase is Phase.COMPLETED
        message = status.message or ""
        if completed:  # the operator's "why; where": the reply says where itself, and a requested stop needs no why
            message = "" if self.spec.stop else message.split(";")[0]
        return Summary(
            recording=self.recording(), completed=completed, duration_seconds=float(status.duration or 0),
            speakers=tuple(speaker.name for speaker in status.speakers or ()), location=status.location or "",
            message=message,
        )


class KubernetesRecordings:
    """Implements ``pandora_frontdoor.recordings.Recordings`` on the ``Recording`` resources of one namespace."""

    def __init__(self, api: RecordingsApi, *, start_timeout: float = START_TIMEOUT,
                 stop_timeout: float = STOP_TIMEOUT, clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._clock = clock
        self._views: dict[str, RecordingView] = {}
        self._changed = asyncio.Condition()
        self._listeners: list[EndListener] = []
        self._announced: set[str] = set()  # uids
        self.synced = asyncio.Event()

    def on_ended(self, listener: EndListener) -> None:
        self._listeners.append(listener)

    def active(self) -> list[ActiveRecording]:
        return [view.recording() for view in self._views.values()
                if not view.ended and not view.spec.stop and view.status.recording_id]

    # -- start and stop --------------------------------------------------------------------------------------

    async def start(self, request: RecordRequest) -> StartOutcome:
        name = recording_name(request.key)
        who = request.requested_by
        spec = RecordingSpec(
            guild_id=str(request.guild_id), voice_channel_id=str(request.voice_channel_id),
            text_channel_id=str(request.text_channel_id) if request.text_channel_id else None,
            requested_by=SpecRequester(who.source.value, str(who.user_id) if who.user_id else None, who.name),
            max_duration=request.max_duration,
        )
        manifest = recording_resource(name, spec, self.api.namespace)
        manifest["metadata"]["annotations"] = {REQUEST_KEY: request.key}
        try:
            created = await self.api.create(manifest)
        except (ApiError, aiohttp.ClientError, TimeoutError) as error:
            log.error("Recording not created", name=name, error=str(error))
            transient = not isinstance(error, ApiError) or error.status >= 500 or error.status == 429
            return StartOutcome(StartResult.FAILED, reason=f"the Kubernetes API refused the Recording: {error}",
                                transient=transient)
        log.info("Recording created" if created else "Recording exists already", name=name,
                 channel=request.voice_channel_id)
        if created is not None:
            self._see(created)
        try:
            view = await self._wait(name, lambda v: v.capturing or v.ended or self._busy_elsewhere(v) is not None,
                                    self.start_timeout)
        except TimeoutError:
            seen = self._views.get(name)
            await self._request_stop(name)
            said = f" (its status: {seen.status.phase}, {seen.status.message})" if seen and seen.status.phase else ""
            return StartOutcome(StartResult.FAILED,
                                reason=f"the recorder did not start within {self.start_timeout:.0f} s{said}")
        if view.capturing:
            return StartOutcome(StartResult.STARTED, view.recording())
        holder = self._busy_elsewhere(view)
        if view.ended:
            same_channel = self._holder(view, same_channel=True)
            if view.status.phase is Phase.FAILED and same_channel is not None:
                return StartOutcome(StartResult.ALREADY_RECORDING, same_channel)
            return StartOutcome(StartResult.FAILED, reason=view.status.message or "the recording ended at once")
        await self._request_stop(name)  # waiting for a free bot: do not start behind the user's back later
        assert holder is not None
        return StartOutcome(StartResult.GUILD_BUSY, holder)

    def _holder(self, view: RecordingView, *, same_channel: bool) -> ActiveRecording | None:
        """Another running recording of ``view``'s guild (of its channel when ``same_channel``)."""
        for other in self._views.values():
            if other.name == view.name or other.ended or not other.status.recording_id:
                continue
            if other.spec.guild_id != view.spec.guild_id:
                continue
            if same_channel and other.spec.voice_channel_id != view.spec.voice_channel_id:
                continue
            return other.recording()
        return None

    def _busy_elsewhere(self, view: RecordingView) -> ActiveRecording | None:
        """Pending while another recording holds the guild: no free bot (the operator says why in the message)."""
        if view.status.phase is not Phase.PENDING or view.spec.stop:
            return None
        return self._holder(view, same_channel=False)

    async def stop(self, recording_id: str) -> Summary | None:
        view = next((v for v in self._views.values() if v.status.recording_id == recording_id and not v.ended), None)
        if view is None:
            return None
        await self._request_stop(view.name)
        try:
            # Endings are announced (the listeners run) before the view that shows them is stored.
            ended = await self._wait(view.name, lambda v: v.ended, self.stop_timeout)
        except TimeoutError:
            seen = self._views.get(view.name, view)
            return Summary(seen.recording(), completed=False, duration_seconds=float(seen.status.duration or 0),
                           speakers=tuple(s.name for s in seen.status.speakers or ()),
                           location=seen.status.location or "",
                           message=f"it did not finish within {self.stop_timeout:.0f} s of the stop request "
                                   f"(its status: {seen.status.phase}, {seen.status.message})")
        return ended.summary()

    async def _request_stop(self, name: str) -> None:
        try:
            self._see(await self.api.patch(name, {"spec": {"stop": True}}))
        except (ApiError, aiohttp.ClientError, TimeoutError) as error:
            log.error("could not set spec.stop", name=name, error=str(error))

    async def _wait(self, name: str, done: Callable[[RecordingView], bool], timeout: float) -> RecordingView:
        async with asyncio.timeout(timeout), self._changed:
            while True:
                view = self._views.get(name)
                if view is not None and done(view):
                    return view
                await self._changed.wait()

    # -- the cache: list, then watch ---------------------------------------------------------------------------

    async def watch(self) -> None:
        """Keep the cache current until cancelled (run as a task)."""
        while True:
            try:
                items, version = await self.api.list()
                seen = {item["metadata"]["name"] for item in items}
                for item in items:
                    await self._update(item)
                for name in set(self._views) - seen:
                    await self._forget(name)
                self.synced.set()
                while True:
                    async for kind, body in self.api.watch(version):
                        version = str(body.get("metadata", {}).get("resourceVersion") or version)
                        if kind == "DELETED":
                            await self._forget(body["metadata"]["name"])
                        elif kind in ("ADDED", "MODIFIED"):
                            await self._update(body)
            except Gone:
                log.info("watch expired, listing again")
            except (ApiError, aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("watching Recordings failed, retrying", error=str(error))
                await asyncio.sleep(RETRY_SECONDS)

    def _see(self, body: Mapping[str, Any]) -> None:
        """A response to our own create or patch: kept until the watch brings it, unless the watch knows it already
        (endings go through ``_update`` only, so that each is announced)."""
        view = RecordingView.from_resource(body)
        current = self._views.get(view.name)
        if not view.ended and (current is None or current.uid != view.uid):
            self._views[view.name] = view

    async def _update(self, body: Mapping[str, Any]) -> None:
        view = RecordingView.from_resource(body)
        previous = self._views.get(view.name)
        if previous is not None and previous.uid != view.uid:
            previous = None  # a new Recording under an old name
        seen_running = previous is not None and not previous.ended
        if (view.ended and (previous is None or seen_running) and view.uid not in self._announced
                and ANNOUNCED not in view.annotations and (seen_running or self._recent(view))):
            await self._announce(view)
        async with self._changed:
            self._views[view.name] = view
            self._changed.notify_all()

    async def _forget(self, name: str) -> None:
        async with self._changed:
            self._views.pop(name, None)
            self._changed.notify_all()

    def _recent(self, view: RecordingView) -> bool:
        ended = view.status.ended_at
        return ended is not None and self._clock() - ended.timestamp() <= ANNOUNCE_WINDOW

    async def _announce(self, view: RecordingView) -> None:
        self._announced.add(view.uid)
        summary = view.summary()
        for listener in self._listeners:
            try:
                await listener(summary)
            except Exception:
                log.exception("end listener failed", name=view.name)
        with contextlib.suppress(ApiError, aiohttp.ClientError, TimeoutError):
            await self.api.patch(view.name, {"metadata": {"annotations": {ANNOUNCED: "true"}}})
