"""Whether a Dapr sidecar answers, without importing the Dapr SDK (standalone mode never needs it).

The storage's names and defaults are part of the recorder's contract: ``pandora.recording_api.recorder``.
"""

from __future__ import annotations

import os
import time
import urllib.request


def dapr_http_endpoint() -> str | None:
    """The sidecar's HTTP API as the SDK finds it (DAPR_HTTP_ENDPOINT, else DAPR_RUNTIME_HOST:DAPR_HTTP_PORT)."""
    if os.environ.get("DAPR_HTTP_ENDPOINT"):
        return os.environ["DAPR_HTTP_ENDPOINT"].rstrip("/")
    port = os.environ.get("DAPR_HTTP_PORT")
    return f"http://{os.environ.get('DAPR_RUNTIME_HOST') or '127.0.0.1'}:{port}" if port else None


def dapr_reachable(timeout: float) -> bool:
    """True when a sidecar answers `/v1.0/healthz/outbound` (what `DaprClient()` waits on) within `timeout` s."""
    endpoint = dapr_http_endpoint()
    if endpoint is None:
        return False
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/v1.0/healthz/outbound", timeout=2) as response:
                if 200 <= response.status < 300:
                    return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
