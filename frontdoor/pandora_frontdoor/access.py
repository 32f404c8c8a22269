"""Who may start and end recordings, and what the bot itself needs in a channel.

Craig's model by default: starting and ending need the Manage Server permission or one of the configured access
roles, and whoever started a recording may always end it. ``AccessMode.EVERYONE`` is the original Pandora's model
(anyone in the server may start) for communities that relied on it; ending still needs the starter or a manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pandora_frontdoor.recordings import ActiveRecording

# The bot's own permissions, by the names Discord's UI shows.
VIEW_CHANNEL = "View Channel"
CONNECT = "Connect"
SEND_MESSAGES = "Send Messages"


class AccessMode(Enum):
    MANAGERS = "managers"  # Manage Server or an access role
    EVERYONE = "everyone"  # the original Pandora: any member


@dataclass(frozen=True)
class Member:
    """The person who typed a command, as far as the command logic needs to know them."""

    user_id: int
    name: str
    manage_guild: bool = False
    role_ids: frozenset[int] = frozenset()
    voice_channel_id: int | None = None


@dataclass(frozen=True)
class AccessPolicy:
    mode: AccessMode = AccessMode.MANAGERS
    roles: frozenset[int] = field(default_factory=frozenset)

    def is_manager(self, member: Member) -> bool:
        return member.manage_guild or bool(self.roles & member.role_ids)

    def may_start(self, member: Member) -> bool:
        return self.mode is AccessMode.EVERYONE or self.is_manager(member)

    def may_end(self, member: Member, recording: ActiveRecording) -> bool:
        return recording.requested_by.user_id == member.user_id or self.is_manager(member)
