"""An in-memory stand-in for ``RecordingsApi`` (the front door's own five-call interface): tests play the operator
by writing statuses."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pandora_frontdoor.kube.api import ApiError


def merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class FakeRecordingsApi:
    namespace = "test"

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.creates: list[str] = []
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self._version = itertools.count(1)
        self._watchers: list[asyncio.Queue[tuple[str, dict[str, Any]]]] = []

    def _emit(self, kind: str, body: dict[str, Any]) -> None:
        body["metadata"]["resourceVersion"] = str(next(self._version))
        for queue in self._watchers:
            queue.put_nowait((kind, copy.deepcopy(body)))

    async def create(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        name = manifest["metadata"]["name"]
        self.creates.append(name)
        if name in self.objects:
            return None
        body = copy.deepcopy(dict(manifest))
        body["metadata"]["uid"] = f"uid-{name}"
        body["spec"].setdefault("stop", False)
        self.objects[name] = body
        self._emit("ADDED", body)
        return copy.deepcopy(body)

    async def get(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.objects.get(name))

    async def list(self) -> tuple[list[dict[str, Any]], str]:
        return [copy.deepcopy(body) for body in self.objects.values()], str(next(self._version))

    async def patch(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        if name not in self.objects:
            raise ApiError(404, f"recordings.pandora.dev {name!r} not found")
        self.patches.append((name, dict(patch)))
        merge(self.objects[name], patch)
        self._emit("MODIFIED", self.objects[name])
        return copy.deepcopy(self.objects[name])

    async def watch(self, resource_version: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._watchers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._watchers.remove(queue)

    # -- the operator's and the recorder's side ----------------------------------------------------------------

    def add(self, name: str, spec: dict[str, Any], status: dict[str, Any] | None = None, **annotations: str) -> None:
        body = {"apiVersion": "pandora.dev/v1alpha1", "kind": "Recording",
                "metadata": {"name": name, "uid": f"uid-{name}", "annotations": annotations},
                "spec": {"stop": False, **spec}, "status": status or {}}
        self.objects[name] = body
        self._emit("ADDED", body)

    def set_status(self, name: str, **status: Any) -> None:
        merge(self.objects[name].setdefault("status", {}), status)
        self._emit("MODIFIED", self.objects[name])
