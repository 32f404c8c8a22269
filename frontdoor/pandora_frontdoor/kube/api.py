"""The front door's five calls on ``Recording`` resources, and nothing else: create, get, list, watch, patch.

These are exactly what its ServiceAccount's Role allows (the chart's ``pandora-frontdoor`` Role), in one
namespace. Everything it learns about a recording comes from the resource's ``status``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from pandora.recording_api.resource import GROUP, PLURAL, VERSION
from pandora_frontdoor.kube.connection import KubeConnection

MERGE_PATCH = "application/merge-patch+json"
WATCH_SECONDS = 300  # the server ends each watch after this; the next one continues from the last version


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Gone(ApiError):
    """410: the resource version to watch from is too old; list again."""


class RecordingsApi:
    def __init__(self, connection: KubeConnection, namespace: str) -> None:
        self.connection = connection
        self.namespace = namespace
        self.path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                base_url=self.connection.server + "/",
                connector=aiohttp.TCPConnector(ssl=self.connection.ssl_context),
                headers={"Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, *, body: Any = None, content_type: str = "application/json",
                    params: Mapping[str, str] | None = None) -> Any:
        headers = {**self.connection.headers(), "Content-Type": content_type}
        data = None if body is None else json.dumps(body)
        async with self._client().request(method, path.lstrip("/"), data=data, headers=headers, params=params,
                                          timeout=aiohttp.ClientTimeout(total=30)) as response:
            text = await response.text()
            if response.status >= 400:
                raise _error(response.status, text)
            return json.loads(text) if text else None

    async def create(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        """The created resource, or None when one of that name exists (409): a deterministic name makes a
        second create of the same request a no-op."""
        try:
            created: dict[str, Any] = await self._call("POST", self.path, body=manifest)
            return created
        except ApiError as error:
            if error.status == 409:
                return None
            raise

    async def get(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._call("GET", f"{self.path}/{name}")
            return found
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(self) -> tuple[list[dict[str, Any]], str]:
        """Every Recording of the namespace, and the resource version to watch from."""
        listing = await self._call("GET", self.path)
        return list(listing.get("items") or []), str(listing["metadata"]["resourceVersion"])

    async def patch(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        patched: dict[str, Any] = await self._call("PATCH", f"{self.path}/{name}", body=patch,
                                                   content_type=MERGE_PATCH)
        return patched

    async def watch(self, resource_version: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(event type, object) from ``resource_version`` on, until the server ends the watch. Bookmarks are
        passed on too (type BOOKMARK), so the caller can continue from their version. Raises ``Gone`` (410)."""
        params = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(WATCH_SECONDS)}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=WATCH_SECONDS + 30)
        async with self._client().get(self.path.lstrip("/"), params=params, headers=self.connection.headers(),
                                      timeout=timeout) as response:
            if response.status >= 400:
                raise _error(response.status, await response.text())
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise _error(int(status.get("code") or 500), json.dumps(status))
                yield str(event["type"]), event["object"]


def _error(status: int, text: str) -> ApiError:
    try:
        message = str(json.loads(text).get("message") or text)
    except (ValueError, AttributeError):
        message = text
    return (Gone if status == 410 else ApiError)(status, message[:500])
