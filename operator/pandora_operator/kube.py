"""The few Kubernetes API calls the operator makes (kopf watches; this writes), through kubernetes_asyncio.

Responses are not deserialized into models (``_preload_content=False``): the operator needs only the status
code, and skipping model building keeps a burst of a thousand creations cheap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from pandora_operator.model import GROUP, PLURAL, VERSION

MERGE_PATCH = "application/merge-patch+json"


async def _body(response: Any) -> bytes:
    """The response body; raises ApiException for an error status (which _preload_content=False skips)."""
    try:
        data = await response.read()
    finally:
        response.release()
    if not 200 <= response.status <= 299:
        raise ApiException(status=response.status, reason=_message(data))
    return data


def _message(data: bytes) -> str:
    """The API server's own explanation from a Status body."""
    try:
        return str(json.loads(data).get("message") or data[:300])
    except ValueError:
        return data.decode(errors="replace")[:300]


async def connect(max_connections: int = 32) -> client.ApiClient:
    """In a pod: the service account; elsewhere: ``$KUBECONFIG`` or ``~/.kube/config``."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        await config.load_kube_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = max_connections
    return client.ApiClient(configuration)


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        # Typed as Any: with _preload_content=False these return raw responses, which the stubs do not know.
        self.core: Any = client.CoreV1Api(api)
        self.custom: Any = client.CustomObjectsApi(api)

    async def close(self) -> None:
        await self.api.close()

    async def create_pod(self, manifest: Mapping[str, Any]) -> bool:
        """Create the pod; False when it already exists (409), which is success for a deterministic name."""
        try:
            await _body(
                await self.core.create_namespaced_pod(
                    manifest["metadata"]["namespace"], manifest, _preload_content=False
                )
            )
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    async def read_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            data = await _body(await self.core.read_namespaced_pod(name, namespace, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return json.loads(data)

    async def delete_pod(self, namespace: str, name: str, grace_seconds: int | None = None) -> None:
        """Delete gracefully (SIGTERM, then the grace period); a pod that is already gone is fine."""
        try:
            await _body(
                await self.core.delete_namespaced_pod(
                    name, namespace, grace_period_seconds=grace_seconds, _preload_content=False
                )
            )
        except ApiException as error:
            if error.status != 404:
                raise

    async def patch_recording_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        response = await self.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            {"status": dict(status)},
            _content_type=MERGE_PATCH,
            _preload_content=False,
        )
        await _body(response)

    async def add_finalizer(self, namespace: str, name: str, finalizer: str, has_list: bool) -> None:
        """JSON patch, so finalizers other controllers put on the Recording are kept."""
        operations: list[dict[str, Any]]
        if has_list:
            operations = [{"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}]
        else:
            operations = [{"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}]
        await self._patch_recording(namespace, name, operations)

    async def remove_finalizer(self, namespace: str, name: str, finalizer: str, index: int) -> None:
        """Remove by position, guarded by a test of that position (a concurrent change makes it fail: 422)."""
        operations = [
            {"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"},
        ]
        try:
            await self._patch_recording(namespace, name, operations)
        except ApiException as error:
            if error.status != 404:
                raise

    async def _patch_recording(self, namespace: str, name: str, operations: list[dict[str, Any]]) -> None:
        response = await self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, operations,
            _content_type="application/json-patch+json", _preload_content=False,
        )
        await _body(response)

    async def recording_exists(self, namespace: str, name: str) -> bool:
        try:
            await _body(
                await self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, _preload_content=False
                )
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    async def secret_keys(self, namespace: str, name: str) -> list[str] | None:
        """The key names of a Secret (None when missing); the values are dropped at once."""
        try:
            data = await _body(await self.core.read_namespaced_secret(name, namespace, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        secret = json.loads(data)
        return [*secret.get("data", {}), *secret.get("stringData", {})]
