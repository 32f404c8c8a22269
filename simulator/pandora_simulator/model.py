"""The simulated Discord world: users, bots, guilds, channels, memberships and voice states.

Plain data plus the JSON shapes Discord sends for them. Behaviour (joining voice, speaking, sending messages) lives
in :mod:`pandora_simulator.members` and the servers; this module only knows what things look like.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pandora_simulator.ids import new_snowflake, snowflake_time_iso

if TYPE_CHECKING:
    from pandora_simulator.faults import FaultPlan
    from pandora_simulator.members import SimMember
    from pandora_simulator.simulator import DiscordSimulator

# Permission bits (https://discord.com/developers/docs/topics/permissions).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
READ_MESSAGE_HISTORY = 1 << 16
CONNECT = 1 << 20
SPEAK = 1 << 21
USE_VAD = 1 << 25
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
DEFAULT_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | CONNECT | SPEAK | USE_VAD | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS | EMBED_LINKS | ATTACH_FILES
)

TEXT_CHANNEL = 0
VOICE_CHANNEL = 2


@dataclass(eq=False)
class SimUser:
    """A Discord user (a person or a bot)."""

    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def user_id(self) -> int:
        return self.id

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass(eq=False)
class SimBot(SimUser):
    """A bot account: its token logs a client in; ``application_id`` is the application that owns it."""

    token: str = ""
    application_id: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)

    def client_user_payload(self) -> dict[str, Any]:
        return {**self.payload(), "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}

    def application_payload(self, owner: SimUser) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": owner.payload(),
            "team": None,
            "flags": 0,
            "rpc_origins": [],
            "bot": self.payload(),
        }


def new_bot(name: str) -> SimBot:
    user_id = new_snowflake()
    # Shaped like real tokens (base64 user id . timestamp . hmac) so log redaction recognises them.
    encoded_id = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    token = f"{encoded_id}.{secrets.token_urlsafe(5)}.{secrets.token_urlsafe(27)}"
    return SimBot(id=user_id, name=name, bot=True, token=token, application_id=user_id)


@dataclass(eq=False)
class Membership:
    """A user's membership in a guild."""

    user: SimUser
    joined_at: str
    nick: str | None = None

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "roles": [],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass(eq=False)
class VoiceState:
    """Where a user is in voice, as Discord reports it in VOICE_STATE_UPDATE."""

    user_id: int
    channel_id: int | None
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False

    def payload(self, guild: SimGuild) -> dict[str, Any]:
        membership = guild.memberships.get(self.user_id)
        return {
            "guild_id": str(guild.id),
            "channel_id": None if self.channel_id is None else str(self.channel_id),
            "user_id": str(self.user_id),
            "member": membership.payload() if membership else None,
            "session_id": self.session_id,
            "deaf": False,
            "mute": False,
            "self_deaf": self.self_deaf,
            "self_mute": self.self_mute,
            "self_video": False,
            "self_stream": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }


@dataclass(eq=False)
class SimChannel:
    """A text or voice channel. Voice channels carry the fault plan applied toward connected real clients."""

    id: int
    guild: SimGuild
    name: str
    type: int
    position: int
    # Permissions taken away from bots in this channel (shows up as a member overwrite and as 403s over REST).
    bot_denied: int = 0
    faults: FaultPlan | None = None

    @property
    def is_voice(self) -> bool:
        return self.type == VOICE_CHANNEL

    def payload(self) -> dict[str, Any]:
        overwrites = [
            {"id": str(user.id), "type": 1, "allow": "0", "deny": str(self.bot_denied)}
            for user in self.guild.bots
            if self.bot_denied
        ]
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": overwrites,
            "parent_id": None,
            "nsfw": False,
            "flags": 0,
        }
        if self.is_voice:
            data.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None, "last_message_id": None})
        else:
            data.update({"topic": None, "last_message_id": None, "rate_limit_per_user": 0})
        return data

    def bot_may(self, permission: int) -> bool:
        return (self.guild.bot_permissions & ~self.bot_denied & permission) == permission

    # Conveniences that route to the simulator (kept here so scenarios read naturally: ``voice.faults = ...``).
    async def force_dave_epoch_change(self) -> None:
        """Re-key the channel's DAVE group: every participant gets a new epoch (re-adds one member)."""
        await self.guild.simulator.voice.force_dave_epoch_change(self.id)

    async def send_forged_dave_proposal(self, member: SimMember) -> None:
        """Fault: send ``member`` an MLS proposal signed with a key that is not the external sender's."""
        room = self.guild.simulator.voice.room(self.id)
        await self.guild.simulator.voice.dave.send_forged_proposal(room, member.id)

    def corrupt_next_dave_commit(self, user_id: int) -> None:
        """Fault: the next MLS commit or welcome this channel's voice server sends ``user_id`` (a real client)
        arrives with one bit flipped; the client must report op 31 and get re-added."""
        self.guild.simulator.voice.dave.corrupt_next.add(user_id)

    async def wait_dave_settled(self, timeout: float = 10.0) -> None:
        """Wait until every participant of this voice channel is in the same DAVE epoch with nothing pending."""
        await self.guild.simulator.voice.wait_dave_settled(self.id, timeout)


@dataclass(eq=False)
class SimGuild:
    """A guild with its channels, members (people and bots) and voice states."""

    id: int
    name: str
    owner_id: int
    simulator: DiscordSimulator
    channels: dict[int, SimChannel] = field(default_factory=dict)
    memberships: dict[int, Membership] = field(default_factory=dict)
    voice_states: dict[int, VoiceState] = field(default_factory=dict)
    bots: list[SimBot] = field(default_factory=list)
    members: dict[int, SimMember] = field(default_factory=dict)
    # Guild-level permissions of bots (the @everyone role): clear CHANGE_NICKNAME to get 403s on nickname changes.
    bot_permissions: int = DEFAULT_PERMISSIONS

    def create_text_channel(self, name: str) -> SimChannel:
        return self._add_channel(name, TEXT_CHANNEL)

    def create_voice_channel(self, name: str) -> SimChannel:
        return self._add_channel(name, VOICE_CHANNEL)

    def _add_channel(self, name: str, kind: int) -> SimChannel:
        channel = SimChannel(id=new_snowflake(), guild=self, name=name, type=kind, position=len(self.channels))
        self.channels[channel.id] = channel
        self.simulator.channels[channel.id] = channel
        self.simulator.announce(self, "CHANNEL_CREATE", channel.payload())
        return channel

    def add_member(self, name: str, *, global_name: str | None = None) -> SimMember:
        """A simulated person in this guild (they can join voice, speak, type, invoke slash commands)."""
        from pandora_simulator.members import SimMember

        user = SimUser(id=new_snowflake(), name=name, global_name=global_name)
        self.memberships[user.id] = Membership(user=user, joined_at=snowflake_time_iso(user.id))
        member = SimMember(user=user, guild=self, index=len(self.members))
        self.members[user.id] = member
        self.simulator.users[user.id] = user
        self.simulator.announce(self, "GUILD_MEMBER_ADD", {**self.memberships[user.id].payload(),
                                                           "guild_id": str(self.id)})
        return member

    def add_bot(self, bot: SimBot) -> None:
        if bot not in self.bots:
            self.bots.append(bot)
            self.memberships[bot.id] = Membership(user=bot, joined_at=snowflake_time_iso(new_snowflake()))

    def bot_nickname(self, bot: SimBot) -> str | None:
        membership = self.memberships.get(bot.id)
        return membership.nick if membership else None

    def voice_channel_of(self, user_id: int) -> int | None:
        state = self.voice_states.get(user_id)
        return state.channel_id if state else None

    def everyone_role(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": "@everyone",
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": 0,
            "permissions": str(self.bot_permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def payload(self) -> dict[str, Any]:
        """The REST guild object (GET /guilds/{id})."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [self.everyone_role()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
        }

    def create_payload(self, bot: SimBot) -> dict[str, Any]:
        """GUILD_CREATE: everything a client caches, with member_count == len(members) so nobody chunks."""
        members = [membership.payload() for membership in self.memberships.values()]
        joined = self.memberships[bot.id].joined_at if bot.id in self.memberships else snowflake_time_iso(self.id)
        return {
            **self.payload(),
            "joined_at": joined,
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "members": members,
            "channels": [channel.payload() for channel in self.channels.values()],
            "threads": [],
            "presences": [],
            "voice_states": [
                {k: v for k, v in state.payload(self).items() if k not in ("guild_id", "member")}
                for state in self.voice_states.values()
                if state.channel_id is not None
            ],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
