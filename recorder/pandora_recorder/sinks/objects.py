"""Objects behind a Dapr output binding (`bindings.aws.s3`): put, get, delete and list by key prefix."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dapr.clients import DaprClient

# S3 ListObjects returns at most 1000 keys per call; ask for that many and page on with the last key.
LIST_PAGE = 1000


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int


class ObjectStore(Protocol):
    """The few object operations a chunked sink needs (no append: objects are written whole)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> list[StoredObject]: ...


class DaprBindingObjects:
    """An S3 bucket through the Dapr binding `binding` (component type `bindings.aws.s3` with
    `decodeBase64: "true"`, so uploads travel as base64 and downloads come back as raw bytes)."""

    def __init__(self, client: DaprClient, binding: str) -> None:
        self.client = client
        self.binding = binding

    def put(self, key: str, data: bytes) -> None:
        self.client.invoke_binding(self.binding, "create", base64.b64encode(data).decode("ascii"), {"key": key})

    def get(self, key: str) -> bytes:
        return self.client.invoke_binding(self.binding, "get", "", {"key": key}).data

    def delete(self, key: str) -> None:
        self.client.invoke_binding(self.binding, "delete", "", {"key": key})

    def list(self, prefix: str) -> list[StoredObject]:
        found: list[StoredObject] = []
        marker = ""
        while True:
            request = {"prefix": prefix, "maxResults": LIST_PAGE, **({"marker": marker} if marker else {})}
            reply = json.loads(self.client.invoke_binding(self.binding, "list", json.dumps(request)).data or b"{}")
            page = [StoredObject(item["Key"], int(item.get("Size") or 0)) for item in reply.get("Contents") or ()]
            found += page
            # ListObjects (v1) pages by "start after this key"; moto's NextMarker is opaque, the last key is not.
            if not reply.get("IsTruncated") or not page:
                return found
            marker = page[-1].key
