"""Discord's REST answers: JSON bodies, and the errors handlers raise (``{"message", "code"}`` bodies).

discord.py only parses a body as JSON when ``Content-Type`` is exactly ``application/json`` (no charset), so every
response goes through :func:`json_response`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": "application/json", **(headers or {})})


class DiscordError(Exception):
    """An HTTP error with Discord's JSON error code."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(kind: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {kind}")


def missing_access() -> DiscordError:
    return DiscordError(403, 50001, "Missing Access")


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def already_acknowledged() -> DiscordError:
    return DiscordError(400, 40060, "Interaction has already been acknowledged.")
