"""Publishing through the sidecar's HTTP API (``POST /v1.0/publish/<pubsub>/<topic>``), on the port the original
Pandora configures (``DAPR_HTTP_PORT``): the same sidecar flags keep working. The sidecar wraps each payload in a
CloudEvent (``datacontenttype: application/json``), as it did the original's."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

PUBLISH_TIMEOUT = 10.0


class DaprPublishError(Exception):
    pass


class DaprHttpPublisher:
    """Implements ``bridge.Publisher``."""

    def __init__(self, endpoint: str, pubsub: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.pubsub = pubsub
        self._session: aiohttp.ClientSession | None = None

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PUBLISH_TIMEOUT))
        url = f"{self.endpoint}/v1.0/publish/{self.pubsub}/{topic}"
        try:
            async with self._session.post(url, data=json.dumps(data),
                                          headers={"Content-Type": "application/json"}) as response:
                if response.status >= 300:
                    raise DaprPublishError(f"the sidecar refused to publish on {topic}: HTTP {response.status} "
                                           f"{(await response.text())[:300]}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DaprPublishError(f"the sidecar did not take a message for {topic}: {error!r}") from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
