"""Objects behind a Dapr output binding (`bindings.aws.s3`, or `bindings.localstorage` on a volume): put, get,
delete and list by key prefix."""

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

    key_field = "key"  # the request metadata naming the object

    def __init__(self, client: DaprClient, binding: str) -> None:
        self.client = client
        self.binding = binding

    def put(self, key: str, data: bytes) -> None:
        # Memory: a whole `.data` file can be tens of MiB (see whole_files.py). The base64 stays bytes (the SDK
        # would encode a str back to bytes: two more copies), and the caller hands over its only reference.
        encoded = base64.b64encode(data)
        del data
        self.client.invoke_binding(self.binding, "create", encoded, {self.key_field: key})

    def get(self, key: str) -> bytes:
        return self.client.invoke_binding(self.binding, "get", "", {self.key_field: key}).data

    def delete(self, key: str) -> None:
        self.client.invoke_binding(self.binding, "delete", "", {self.key_field: key})

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


class DaprLocalStorageObjects(DaprBindingObjects):
    """A folder through a `bindings.localstorage` binding (request metadata `fileName`; it decodes base64 data).
    Its `list` answers with absolute paths of every file under `rootPath` and no sizes, so this lists the whole
    root and reads each matching object once: fine for a volume, which is what this binding is for."""

    key_field = "fileName"

    def list(self, prefix: str) -> list[StoredObject]:
        paths = json.loads(self.client.invoke_binding(self.binding, "list", "").data or b"null") or []
        keys = sorted({path[path.rfind("/" + prefix) + 1 :] for path in paths if "/" + prefix in path})
        return [StoredObject(key, len(self.get(key))) for key in keys]


def binding_objects(client: DaprClient, binding: str) -> DaprBindingObjects:
    """The object store behind `binding`, by the component type the sidecar reports."""
    types = {component.name: component.type for component in client.get_metadata().registered_components}
    kind = types.get(binding)
    if kind == "bindings.aws.s3":
        return DaprBindingObjects(client, binding)
    if kind == "bindings.localstorage":
        return DaprLocalStorageObjects(client, binding)
    raise ValueError(f"Dapr binding {binding!r} is {kind or 'not loaded'}; need bindings.aws.s3 or "
                     f"bindings.localstorage (loaded: {', '.join(sorted(types)) or 'none'})")
