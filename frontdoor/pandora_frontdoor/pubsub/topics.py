"""The original Pandora's topic names, and the bridge's settings from the environment.

``PUBSUB_NAME``         the Dapr pub/sub component (the original's variable): the bridge runs when it is set
``DAPR_SERVER_PORT``    the port this app listens on for Dapr's deliveries (the original's; default 50053),
                        the sidecar's ``--app-port``
``DAPR_HTTP_PORT``      the sidecar's HTTP port, for publishing (default 3503, the original's)
``PANDORA_PUBSUB_HOST`` the address the app listens on (default 127.0.0.1: the sidecar shares the network)
``PANDORA_PUBSUB_MAX_AGE`` seconds a published start or stop stays valid (default 600; 0: forever)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

START = "startRecordingDiscord"
STARTED = "startedRecordingDiscord"
STOP = "stopRecordingDiscord"
STOPPED = "stoppedRecordingDiscord"
INFO = "recordingDiscordInfo"

DEFAULT_APP_PORT = 50053
DEFAULT_DAPR_HTTP_PORT = 3503
DEFAULT_MAX_AGE = 600.0  # seconds: covers Dapr's redeliveries (a minute apart for Redis) and a short outage


@dataclass(frozen=True)
class PubSubConfig:
    pubsub: str
    app_port: int = DEFAULT_APP_PORT
    app_host: str = "127.0.0.1"
    dapr_endpoint: str = f"http://127.0.0.1:{DEFAULT_DAPR_HTTP_PORT}"
    max_age: float = DEFAULT_MAX_AGE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PubSubConfig | None:
        """None when ``PUBSUB_NAME`` is not set (no bridge)."""
        name = (env.get("PUBSUB_NAME") or "").strip()
        if not name:
            return None
        port_text = env.get("DAPR_SERVER_PORT") or str(DEFAULT_APP_PORT)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"DAPR_SERVER_PORT must be a port number, got {port_text!r}")
        endpoint = env.get("DAPR_HTTP_ENDPOINT") or (
            f"http://{env.get('DAPR_RUNTIME_HOST') or '127.0.0.1'}:"
            f"{env.get('DAPR_HTTP_PORT') or DEFAULT_DAPR_HTTP_PORT}")
        age_text = env.get("PANDORA_PUBSUB_MAX_AGE") or str(DEFAULT_MAX_AGE)
        try:
            max_age = float(age_text)
        except ValueError:
            raise ValueError(f"PANDORA_PUBSUB_MAX_AGE must be a number of seconds, got {age_text!r}") from None
        return cls(name, int(port_text), env.get("PANDORA_PUBSUB_HOST") or "127.0.0.1", endpoint.rstrip("/"),
                   max_age)
