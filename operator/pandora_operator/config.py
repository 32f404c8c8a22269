"""Operator settings, read once from the environment (the Helm chart sets them on the Deployment)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pandora.recording_api.recorder import (
    DEFAULT_STORAGE_BINDING,
    DEFAULT_STORAGE_PREFIX,
    ENV_STORAGE_BINDING,
    ENV_STORAGE_PREFIX,
    ENV_TOKEN,
    storage_location,
)

DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


# Recorder pods per bot per 24 h, of Discord's 1000 IDENTIFYs (see start_budget.py).
DEFAULT_DAILY_RECORDER_STARTS = 750


@dataclass(frozen=True)
class OperatorConfig:
    recorder_image: str = "ghcr.io/pandora/recorder:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    # The bot pool: a Secret in each Recording's namespace whose keys are bot names and values their tokens.
    bot_secret: str = "pandora-bots"
    recorder_service_account: str = "pandora-recorder"
    dapr_config: str = "pandora"
    dapr_app_id: str = "pandora-recorder"
    # The recorder sidecar's request-size limit: each whole file written at the end is one binding request.
    dapr_max_body_size: str = "64Mi"
    storage_binding: str = DEFAULT_STORAGE_BINDING
    storage_prefix: str = DEFAULT_STORAGE_PREFIX
    # SIGTERM -> final flush -> exit must fit in this; the Dapr sidecar stops only after the recorder has.
    stop_grace_seconds: int = 60
    resources: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_RESOURCES)
    # Extra environment for recorder pods (e.g. the connection contract pointing at a local Discord).
    recorder_env: Mapping[str, str] = field(default_factory=dict)
    daily_recorder_starts: int = DEFAULT_DAILY_RECORDER_STARTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            recorder_image=env.get("PANDORA_RECORDER_IMAGE", defaults.recorder_image),
            image_pull_policy=env.get("PANDORA_RECORDER_IMAGE_PULL_POLICY", defaults.image_pull_policy),
            bot_secret=env.get("PANDORA_BOT_SECRET", defaults.bot_secret),
            recorder_service_account=env.get(
                "PANDORA_RECORDER_SERVICE_ACCOUNT", defaults.recorder_service_account
            ),
            dapr_config=env.get("PANDORA_DAPR_CONFIG", defaults.dapr_config),
            dapr_app_id=env.get("PANDORA_DAPR_APP_ID", defaults.dapr_app_id),
            dapr_max_body_size=env.get("PANDORA_DAPR_MAX_BODY_SIZE", defaults.dapr_max_body_size),
            # The same names as the recorder's: the chart sets one value for both.
            storage_binding=env.get(ENV_STORAGE_BINDING, defaults.storage_binding),
            storage_prefix=env.get(ENV_STORAGE_PREFIX, defaults.storage_prefix),
            stop_grace_seconds=int(env.get("PANDORA_STOP_GRACE_SECONDS", defaults.stop_grace_seconds)),
            resources=json.loads(env["PANDORA_RECORDER_RESOURCES"])
            if env.get("PANDORA_RECORDER_RESOURCES")
            else DEFAULT_RESOURCES,
            recorder_env=_recorder_env(env.get("PANDORA_RECORDER_ENV")),
            daily_recorder_starts=int(env.get("PANDORA_DAILY_RECORDER_STARTS", defaults.daily_recorder_starts)),
        )

    def location(self, binding: str | None, prefix: str | None, recording_id: str) -> str:
        """Where a recording's files end up, with a Recording's overrides (None: the operator's defaults)."""
        return storage_location(binding or self.storage_binding, prefix or self.storage_prefix, recording_id)


def _recorder_env(raw: str | None) -> dict[str, str]:
    """Extra recorder environment; the token is dropped so a token can only come from the bot pool Secret."""
    values = json.loads(raw) if raw else {}
    return {str(key): str(value) for key, value in values.items() if key != ENV_TOKEN}
