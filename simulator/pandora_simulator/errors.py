"""Discord's REST error answers: raised inside handlers, turned into ``{"message", "code"}`` bodies by the API."""

from __future__ import annotations


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
