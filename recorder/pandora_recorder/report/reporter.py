"""Status reporters: a no-op one for standalone runs and one that patches `recordings/status`."""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from pandora.recording_api.recorder import RecorderEnv
from pandora.recording_api.resource import GROUP, PLURAL, VERSION
from pandora_recorder.report.progress import Progress

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
log = logging.getLogger(__name__)


class StatusReporter(ABC):
    @abstractmethod
    async def report(self, progress: Progress) -> None:
        """Send (or, when throttled, remember) the latest progress; never raises."""

    @abstractmethod
    async def close(self) -> None:
        """Deliver anything still unsent and release the connection."""

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> StatusReporter:
        """A reporter for this process: Kubernetes inside a recorder pod, otherwise one that does nothing."""
        env = os.environ if env is None else env
        recorder = RecorderEnv.from_environ(env)
        name, namespace = recorder.recording_name, recorder.recording_namespace
        host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
        token_file = SERVICE_ACCOUNT_DIR / "token"
        if not (name and namespace and host and token_file.exists()):
            return NoopReporter()
        return KubernetesStatusReporter(
            api_url=f"https://{host}:{port}",
            namespace=namespace,
            name=name,
            token_file=token_file,
            ca_file=SERVICE_ACCOUNT_DIR / "ca.crt",
        )


class NoopReporter(StatusReporter):
    async def report(self, progress: Progress) -> None:
        return None

    async def close(self) -> None:
        return None


class KubernetesStatusReporter(StatusReporter):
    """PATCHes progress onto the Recording's status subresource, at most every ``min_interval`` seconds.

    Reporting never raises: a recording must not stop because its status could not be written.
    """

    def __init__(
        self,
        *,
        api_url: str,
        namespace: str,
        name: str,
        token_file: Path,
        ca_file: Path | None,
        min_interval: float = 2.0,
    ) -> None:
        self.url = f"{api_url.rstrip('/')}/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        self.token_file = token_file
        self.ca_file = ca_file
        self.min_interval = min_interval
        self._session: aiohttp.ClientSession | None = None
        self._last_sent = float("-inf")
        self._unsent: Progress | None = None

    async def report(self, progress: Progress) -> None:
        if time.monotonic() - self._last_sent < self.min_interval:
            self._unsent = progress
            return
        await self._send(progress)

    async def close(self) -> None:
        if self._unsent is not None:
            await self._send(self._unsent)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(self, progress: Progress) -> None:
        self._unsent = None
        self._last_sent = time.monotonic()
        # Read the token each time: projected service-account tokens are rotated by the kubelet.
        headers = {
            "Authorization": f"Bearer {self.token_file.read_text().strip()}",
            "Content-Type": "application/merge-patch+json",
        }
        body = json.dumps(progress.status().to_patch())
        try:
            async with self._client().patch(self.url, data=body, headers=headers) as response:
                if response.status >= 400:
                    log.warning("status report refused: HTTP %s %s", response.status, (await response.text())[:200])
                    return
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("status report failed: %s", error)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context), timeout=aiohttp.ClientTimeout(total=10)
            )
        return self._session
