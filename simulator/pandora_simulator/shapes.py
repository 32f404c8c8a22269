"""The JSON Discord sends for the world's objects (users, members, voice states, channels, guilds, applications)."""

from __future__ import annotations

from typing import Any

from pandora_simulator.ids import snowflake_time_iso
from pandora_simulator.model import Membership, SimBot, SimChannel, SimGuild, SimRole, SimUser, VoiceState


def user(account: SimUser) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "username": account.name,
        "discriminator": "0",
        "global_name": account.global_name,
        "avatar": None,
        "bot": account.bot,
        "public_flags": 0,
        "flags": 0,
    }


def client_user(bot: SimBot) -> dict[str, Any]:
    """The user object of READY and GET /users/@me (the bot's own account)."""
    return {**user(bot), "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}


def application(bot: SimBot, owner: SimUser) -> dict[str, Any]:
    return {
        "id": str(bot.application_id),
        "name": bot.name,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user(owner),
        "team": None,
        "flags": 0,
        "rpc_origins": [],
        "bot": user(bot),
    }


def member(membership: Membership, *, with_user: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "nick": membership.nick,
        "avatar": None,
        "roles": [str(role_id) for role_id in membership.roles],
        "joined_at": membership.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(membership.user)
    return data


def guild_member(guild: SimGuild, membership: Membership) -> dict[str, Any]:
    """A member with its guild id, as GUILD_MEMBER_ADD / GUILD_MEMBER_UPDATE carry it."""
    return {**member(membership), "guild_id": str(guild.id)}


def voice_state(state: VoiceState, guild: SimGuild) -> dict[str, Any]:
    membership = guild.memberships.get(state.user_id)
    return {
        "guild_id": str(guild.id),
        "channel_id": None if state.channel_id is None else str(state.channel_id),
        "user_id": str(state.user_id),
        "member": member(membership) if membership else None,
        "session_id": state.session_id,
        "deaf": False,
        "mute": False,
        "self_deaf": state.self_deaf,
        "self_mute": state.self_mute,
        "self_video": False,
        "self_stream": False,
        "suppress": False,
        "request_to_speak_timestamp": None,
    }


def channel(room: SimChannel) -> dict[str, Any]:
    overwrites = [
        {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
        for o in room.permission_overwrites()
    ]
    data: dict[str, Any] = {
        "id": str(room.id),
        "type": room.type,
        "guild_id": str(room.guild.id),
        "name": room.name,
        "position": room.position,
        "permission_overwrites": overwrites,
        "parent_id": None,
        "nsfw": False,
        "flags": 0,
    }
    if room.is_voice:
        data.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None, "last_message_id": None})
    else:
        data.update({"topic": None, "last_message_id": None, "rate_limit_per_user": 0})
    return data


def role(part: SimRole) -> dict[str, Any]:
    return {
        "id": str(part.id),
        "name": part.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": part.position,
        "permissions": str(part.permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild(place: SimGuild) -> dict[str, Any]:
    """The REST guild object (GET /guilds/{id})."""
    return {
        "id": str(place.id),
        "name": place.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(place.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role(part) for part in place.roles.values()],
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


def guild_create(place: SimGuild, bot: SimBot) -> dict[str, Any]:
    """GUILD_CREATE: everything a client caches, with member_count == len(members) so nobody chunks."""
    members = [member(membership) for membership in place.memberships.values()]
    joined = place.memberships[bot.id].joined_at if bot.id in place.memberships else snowflake_time_iso(place.id)
    return {
        **guild(place),
        "joined_at": joined,
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "members": members,
        "channels": [channel(room) for room in place.channels.values()],
        "threads": [],
        "presences": [],
        "voice_states": [
            {k: v for k, v in voice_state(state, place).items() if k not in ("guild_id", "member")}
            for state in place.voice_states.values()
            if state.channel_id is not None
        ],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }
