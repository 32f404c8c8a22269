"""An in-memory stand-in for the API server behind the operator's ``KubeApi``, and a driver for the reconciler.

``FakeKube`` keeps Recordings and pods as the API server would hand them out (plain JSON bodies), applies status
merge patches and finalizer changes, and collects Events. ``World`` plays kopf's part: it builds the views the
indexes would hold from those bodies and calls ``reconcile`` with them. Pods change only when a test says so
(``run_pod``, ``exit_pod``, ``remove_pod``), as a kubelet would.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pandora.recording_api.resource import Phase, RecordingSpec, recording_resource
from pandora.recording_api.status import RecordingStatus, format_time, utcnow
from pandora_operator.botpool import BotPool
from pandora_operator.config import OperatorConfig
from pandora_operator.handlers.indexes import persisted_claims
from pandora_operator.kube import ApiError
from pandora_operator.model import LABEL_RECORDING
from pandora_operator.reconcile import Context, reconcile
from pandora_operator.views import PodView, RecordingView

NAMESPACE = "ns"
GUILD = "100000000000000001"
_channels = itertools.count(200000000000000001)


def channel() -> str:
    return str(next(_channels))


class OperatorKilled(Exception):
    """The operator process ended here."""


@dataclass(frozen=True)
class Event:
    recording: str
    kind: str  # Normal or Warning
    reason: str
    message: str


class FakeKube:
    """Implements ``pandora_operator.kube.KubeApi`` in memory, for one namespace."""

    def __init__(self, bots: tuple[str, ...], bot_secret: str) -> None:
        self.recordings: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, list[str]] = {bot_secret: list(bots)}
        self.events: list[Event] = []
        self.status_patches: list[tuple[str, dict[str, Any]]] = []
        self.deleted_pods: list[str] = []
        # The API server's answer to the next pod creations, e.g. ApiError(403, ...) for a missing ServiceAccount.
        self.refuse_pods: ApiError | None = None
        self.refuse_pod_names: set[str] = set()  # only these
        # Set: status patches fail, as if the operator process died before sending them.
        self.lose_status_patches = False

    async def create_pod(self, manifest: Mapping[str, Any]) -> bool:
        name = manifest["metadata"]["name"]
        if name in self.pods:
            return False
        if self.refuse_pods is not None and (not self.refuse_pod_names or name in self.refuse_pod_names):
            raise self.refuse_pods
        self.pods[name] = {**copy.deepcopy(dict(manifest)), "status": {"phase": "Pending"}}
        return True

    async def read_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.pods.get(name))

    async def delete_pod(self, namespace: str, name: str, grace_seconds: int) -> None:
        if name in self.pods:
            self.pods[name]["metadata"]["deletionTimestamp"] = format_time(utcnow())
            self.deleted_pods.append(name)

    async def patch_recording_status(self, namespace: str, name: str, status: RecordingStatus) -> None:
        if self.lose_status_patches:
            raise OperatorKilled(f"status patch of {name} never sent")
        patch = status.to_patch()["status"]
        self.status_patches.append((name, patch))
        body = self.recordings[name]
        body["status"] = {**(body.get("status") or {}), **copy.deepcopy(patch)}

    async def add_finalizer(self, namespace: str, name: str, finalizer: str, has_list: bool) -> None:
        self.recordings[name]["metadata"].setdefault("finalizers", []).append(finalizer)

    async def remove_finalizer(self, namespace: str, name: str, finalizer: str, index: int) -> None:
        metadata = self.recordings[name]["metadata"]
        if metadata.get("finalizers", [])[index:index + 1] == [finalizer]:
            del metadata["finalizers"][index]
        if metadata.get("deletionTimestamp") and not metadata["finalizers"]:
            del self.recordings[name]

    async def recording_exists(self, namespace: str, name: str) -> bool:
        return name in self.recordings

    async def secret_keys(self, namespace: str, name: str) -> list[str] | None:
        keys = self.secrets.get(name)
        return None if keys is None else list(keys)

    def post_event(self, recording: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        self.events.append(Event(recording["metadata"]["name"], kind, reason, message))


class World:
    """The fake cluster plus one operator process (a ``Context``); ``restart_operator`` starts a fresh one."""

    def __init__(self, bots: tuple[str, ...] = ("alpha",), max_restarts: int = 5) -> None:
        self.config = OperatorConfig(stop_grace_seconds=5)
        self.kube = FakeKube(bots, self.config.bot_secret)
        self.max_restarts = max_restarts
        self.ctx = self._new_context()

    def _new_context(self) -> Context:
        pool = BotPool(self.config.bot_secret, self.kube.secret_keys, cache_seconds=0)
        return Context(config=self.config, kube=self.kube, pool=pool, max_restarts=self.max_restarts)

    def restart_operator(self) -> None:
        """A new operator process: nothing in memory, only what the API server holds."""
        self.ctx = self._new_context()

    # --- Recordings -------------------------------------------------------------------------------------------

    def create(self, name: str, *, guild: str = GUILD, voice_channel: str | None = None, **spec: Any) -> str:
        resource = recording_resource(
            name, RecordingSpec(guild_id=guild, voice_channel_id=voice_channel or channel(), **spec), NAMESPACE
        )
        resource["metadata"].update(uid=str(uuid.uuid4()), generation=1)
        self.kube.recordings[name] = resource
        return name

    def edit_spec(self, name: str, **changes: Any) -> None:
        body = self.kube.recordings[name]
        body["spec"].update(changes)
        body["metadata"]["generation"] += 1

    def delete(self, name: str) -> None:
        """``kubectl delete``: with finalizers the Recording stays, marked for deletion, until they are removed."""
        metadata = self.kube.recordings[name]["metadata"]
        if metadata.get("finalizers"):
            metadata["deletionTimestamp"] = format_time(utcnow())
        else:
            del self.kube.recordings[name]

    def exists(self, name: str) -> bool:
        return name in self.kube.recordings

    def status(self, name: str) -> RecordingStatus:
        return RecordingStatus.from_resource(self.raw_status(name))

    def raw_status(self, name: str) -> dict[str, Any]:
        return self.kube.recordings[name].get("status") or {}

    def view(self, name: str) -> RecordingView:
        return RecordingView.from_body(self.kube.recordings[name])

    def events(self, name: str) -> list[tuple[str, str]]:
        return [(event.kind, event.reason) for event in self.kube.events if event.recording == name]

    # --- the kopf side ----------------------------------------------------------------------------------------

    def recording_index(self) -> dict[tuple[str, str], list[RecordingView]]:
        return {(NAMESPACE, name): [RecordingView.from_body(body)] for name, body in self.kube.recordings.items()}

    def pod_index(self) -> dict[tuple[str, str], list[PodView]]:
        index: dict[tuple[str, str], list[PodView]] = {}
        for body in self.kube.pods.values():
            index.setdefault((NAMESPACE, body["metadata"]["labels"][LABEL_RECORDING]), []).append(
                PodView.from_body(body)
            )
        return index

    async def reconcile(
        self, name: str, view: RecordingView | None = None, pods: list[PodView] | None = None
    ) -> Phase | None:
        """One trigger for ``name``, with the views kopf's indexes would hold now (or stale ones, when given)."""
        recordings, pod_index = self.recording_index(), self.pod_index()
        return await reconcile(
            self.ctx,
            view or self.view(name),
            pod_index.get((NAMESPACE, name), []) if pods is None else pods,
            lambda: persisted_claims(recordings, pod_index),  # type: ignore[arg-type]
        )

    async def recording(self, name: str, started: datetime.datetime | None = None, **spec: Any) -> None:
        """Create ``name`` and bring it to Recording: its first pod runs (since ``started``)."""
        self.create(name, **spec)
        await self.reconcile(name)
        self.run_pod(f"{name}-rec-0", started)
        phase = await self.reconcile(name)
        assert phase is Phase.RECORDING, phase

    async def settle(self, name: str, rounds: int = 4) -> Phase | None:
        """Reconcile until the phase stops changing (each watch event of our own writes is another trigger)."""
        phase = None
        for _ in range(rounds):
            phase = await self.reconcile(name)
        return phase

    # --- the kubelet side -------------------------------------------------------------------------------------

    def pod_names(self, live_only: bool = False) -> list[str]:
        return sorted(name for name, body in self.kube.pods.items()
                      if not (live_only and (body["metadata"].get("deletionTimestamp")
                                             or body["status"]["phase"] in ("Succeeded", "Failed"))))

    def pod(self, name: str) -> dict[str, Any]:
        return self.kube.pods[name]

    def run_pod(self, name: str, started: datetime.datetime | None = None) -> None:
        since = format_time(started or utcnow())
        self.kube.pods[name]["status"] = {
            "phase": "Running",
            "startTime": since,
            "containerStatuses": [{"name": "recorder", "state": {"running": {"startedAt": since}}}],
        }

    def exit_pod(self, name: str, code: int, reason: str = "", sidecar_stopping: bool = False) -> None:
        """The recorder exited with `code`; with `sidecar_stopping`, as the kubelet first reports it: the daprd
        sidecar still running (it is stopped after the recorder), the pod's phase still Running."""
        terminated = {"exitCode": code, **({"reason": reason} if reason else {})}
        self.kube.pods[name]["status"] = {
            "phase": "Running" if sidecar_stopping else "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [{"name": "recorder", "state": {"terminated": terminated}}],
            **({"initContainerStatuses": [{"name": "daprd", "state": {"running": {}}}]} if sidecar_stopping else {}),
        }

    def remove_pod(self, name: str) -> None:
        """Gone from the API server: deleted and finished, or evicted."""
        del self.kube.pods[name]
