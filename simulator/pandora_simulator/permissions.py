"""Permission bits and Discord's permission computation, on plain values.

Base permissions: the guild owner has all; else @everyone's permissions OR the member's roles', and Administrator
means all. In a channel: Administrator bypasses overwrites; else the @everyone overwrite, then the member's role
overwrites together (deny, then allow), then the member's own overwrite. Then the implicit rules, as discord.py
2.7.1 applies them too: without View Channel no channel permission; without Send Messages no TTS, @everyone,
embeds or files; voice permissions only in voice channels, and there only with Connect.
(https://discord.com/developers/docs/topics/permissions)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5  # "Manage Server"
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
CONNECT = 1 << 20
SPEAK = 1 << 21
MOVE_MEMBERS = 1 << 24
USE_VAD = 1 << 25
CHANGE_NICKNAME = 1 << 26
MANAGE_NICKNAMES = 1 << 27
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = (1 << 51) - 1
CHANNEL_PERMISSIONS = 0x1E64FDB3F7FF51  # the ones that apply within a channel (discord.py's all_channel())
VOICE_PERMISSIONS = 0x1248003F00300  # Connect, Speak, Stream, ... (discord.py's Permissions.voice())

# What @everyone gets in a new simulated guild (enough to record and answer commands).
DEFAULT_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | CONNECT | SPEAK | USE_VAD | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS | EMBED_LINKS | ATTACH_FILES
)

ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1


@dataclass(frozen=True)
class Overwrite:
    """A channel permission overwrite for one role (``type`` 0) or member (``type`` 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


def base_permissions(everyone: int, role_permissions: Iterable[int], *, owner: bool) -> int:
    if owner:
        return ALL_PERMISSIONS
    value = everyone
    for permissions in role_permissions:
        value |= permissions
    return ALL_PERMISSIONS if value & ADMINISTRATOR else value


def channel_permissions(base: int, *, everyone: Overwrite | None, roles: Iterable[Overwrite],
                        member: Overwrite | None, voice: bool) -> int:
    """``base`` after a channel's overwrites (the @everyone one, the member's roles' together, the member's) and
    the implicit rules; ``voice`` tells a voice channel."""
    if base & ADMINISTRATOR:
        return ALL_PERMISSIONS
    value = base
    if everyone is not None:
        value = (value & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for overwrite in roles:
        allow, deny = allow | overwrite.allow, deny | overwrite.deny
    value = (value & ~deny) | allow
    if member is not None:
        value = (value & ~member.deny) | member.allow
    if not value & SEND_MESSAGES:
        value &= ~(SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
    if not value & VIEW_CHANNEL:
        value &= ~CHANNEL_PERMISSIONS
    if not voice:
        value &= ~VOICE_PERMISSIONS
    elif not value & CONNECT:
        value &= ~(VOICE_PERMISSIONS | MANAGE_CHANNELS | MANAGE_ROLES)
    return value
