"""Changes to a guild that connected bots hear about: channels, members, roles, bots joining, nickname changes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from pandora_simulator import shapes
from pandora_simulator.gateway_sessions import GatewaySessions
from pandora_simulator.model import SimBot, SimChannel, SimGuild, SimMember, SimRole
from pandora_simulator.opcodes import Intent


class GuildChanges:
    """Implements :class:`~pandora_simulator.model.GuildEvents` for the scenario API, plus REST's nickname change.

    ``spawn`` runs a dispatch in the background (scenario methods are synchronous); it does nothing before the
    simulator serves, when no session could hear it anyway.
    """

    def __init__(self, sessions: GatewaySessions, spawn: Callable[[Coroutine[Any, Any, Any]], None]) -> None:
        self.sessions = sessions
        self.spawn = spawn

    def channel_created(self, channel: SimChannel) -> None:
        self.spawn(self.sessions.to_guild(channel.guild, "CHANNEL_CREATE", shapes.channel(channel), Intent.GUILDS))

    def member_added(self, member: SimMember) -> None:
        guild = member.guild
        payload = shapes.guild_member(guild, guild.memberships[member.id])
        self.spawn(self.sessions.to_guild(guild, "GUILD_MEMBER_ADD", payload, Intent.GUILD_MEMBERS))

    def channel_updated(self, channel: SimChannel) -> None:
        self.spawn(self.sessions.to_guild(channel.guild, "CHANNEL_UPDATE", shapes.channel(channel), Intent.GUILDS))

    def member_updated(self, guild: SimGuild, user_id: int) -> None:
        payload = shapes.guild_member(guild, guild.memberships[user_id])
        self.spawn(self.sessions.to_guild(guild, "GUILD_MEMBER_UPDATE", payload, Intent.GUILD_MEMBERS,
                                          about_user=user_id))

    def role_created(self, guild: SimGuild, role: SimRole) -> None:
        self._role_event(guild, "GUILD_ROLE_CREATE", role)

    def role_updated(self, guild: SimGuild, role: SimRole) -> None:
        self._role_event(guild, "GUILD_ROLE_UPDATE", role)

    def _role_event(self, guild: SimGuild, event: str, role: SimRole) -> None:
        payload = {"guild_id": str(guild.id), "role": shapes.role(role)}
        self.spawn(self.sessions.to_guild(guild, event, payload, Intent.GUILDS))

    def bot_added(self, bot: SimBot, guild: SimGuild) -> None:
        self.spawn(self.sessions.to_bot(bot.id, "GUILD_CREATE", shapes.guild_create(guild, bot), Intent.GUILDS))

    async def set_nickname(self, guild: SimGuild, bot: SimBot, nick: str | None) -> dict[str, Any]:
        membership = guild.memberships[bot.id]
        membership.nick = nick
        await self.sessions.to_guild(guild, "GUILD_MEMBER_UPDATE", shapes.guild_member(guild, membership),
                                     Intent.GUILD_MEMBERS, about_user=bot.id)
        return shapes.member(membership)
