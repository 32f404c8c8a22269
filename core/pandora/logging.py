"""Logging for every Pandora process: readable console by default, ECS JSON when ``PANDORA_ENV=production``.

A redaction step removes Discord bot tokens from every event, so a token passed by mistake never reaches a
log line.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from pandora.recording_api.recorder import ENV_TOKEN

# PANDORA_ENV=production (recorder pods, the operator) switches to ECS JSON.
ENV_MODE = "PANDORA_ENV"
PRODUCTION = "production"
# Discord bot tokens: base64 user id, timestamp, HMAC, joined by dots.
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")
_SECRET_KEYS = {"token", "bot_token", "authorization", "password", "secret"}
REDACTED = "[redacted]"


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _TOKEN_PATTERN.sub(REDACTED, text)


class RedactSecrets:
    """structlog processor: drop secret-named keys and scrub known secrets from every string value."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self.secrets = secrets

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if key.lower() in _SECRET_KEYS:
                event[key] = REDACTED
            elif isinstance(value, str):
                event[key] = redact_text(value, self.secrets)
        return event


def _known_secrets() -> tuple[str, ...]:
    return tuple(value for name in (ENV_TOKEN, "DISCORD_TOKEN") if (value := os.environ.get(name)))


def _ecs_renderer() -> Any:
    import ecs_logging

    formatter = ecs_logging.StructlogFormatter()

    def render(logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        # ECS takes the level from the method name; ``log.exception`` must still be level "error".
        return formatter(logger, event.pop("level", name), dict(event))

    return render


def configure_logging(level: str | None = None) -> None:
    """Configure structlog and the standard library (discord.py, kopf, aiohttp) to share one output."""
    level_name = (level or os.environ.get("PANDORA_LOG_LEVEL") or "INFO").upper()
    production = os.environ.get(ENV_MODE) == PRODUCTION
    redact = RedactSecrets(_known_secrets())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.format_exc_info if production else structlog.dev.set_exc_info,
        redact,
    ]
    if production:
        renderer: Any = _ecs_renderer()
    else:
        shared.insert(3, structlog.processors.TimeStamper(fmt="iso", utc=True))
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_name)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
