"""Voice-state rules: who is in which voice channel, as bots (gateway op 4) and simulated members change it.

A bot's voice state belongs to the gateway session that sent its op 4 (``session_id``); when that session ends,
the state goes and the voice server closes the connection with 4014. Every change is told to the guild's bots.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pandora_simulator import shapes
from pandora_simulator.gateway_sessions import GatewaySession, GatewaySessions
from pandora_simulator.logs import log
from pandora_simulator.model import SimBot, SimChannel, SimGuild, SimMember, VoiceState
from pandora_simulator.opcodes import Intent, VoiceClose
from pandora_simulator.permissions import CONNECT, VIEW_CHANNEL
from pandora_simulator.records import VoiceStateRequest
from pandora_simulator.voice_server import VoiceServer
from pandora_simulator.world import World


class VoiceStates:
    def __init__(self, world: World, sessions: GatewaySessions, voice: VoiceServer,
                 voice_endpoint: Callable[[], str]) -> None:
        self.world = world
        self.sessions = sessions
        self.voice = voice
        self.voice_endpoint = voice_endpoint

    async def _announce(self, guild: SimGuild, state: VoiceState, *, about_user: int | None = None) -> None:
        await self.sessions.to_guild(guild, "VOICE_STATE_UPDATE", shapes.voice_state(state, guild),
                                     Intent.GUILD_VOICE_STATES, about_user=about_user)

    async def _forget(self, guild: SimGuild, user_id: int, *, about_user: int | None = None) -> None:
        """Remove a user's voice state and tell the guild (channel_id null)."""
        state = guild.voice_states.pop(user_id, None)
        if state is not None:
            await self._announce(guild, VoiceState(user_id, None, state.session_id), about_user=about_user)

    # --- bots (gateway op 4) -----------------------------------------------------------------------------------

    async def bot_request(self, session: GatewaySession, data: dict[str, Any]) -> None:
        """Gateway op 4 from a bot: join, move or leave voice."""
        guild = self.world.guild(int(data.get("guild_id") or 0))
        bot = session.bot
        if guild is None or bot not in guild.bots:
            return
        raw_channel = data.get("channel_id")
        channel = guild.channels.get(int(raw_channel)) if raw_channel else None
        refused = _refusal(channel, bot) if raw_channel else ""
        self_mute, self_deaf = bool(data.get("self_mute")), bool(data.get("self_deaf"))
        self.world.voice_state_log.append(VoiceStateRequest(
            user_id=bot.id, guild_id=guild.id, channel_id=int(raw_channel) if raw_channel else None,
            self_mute=self_mute, self_deaf=self_deaf, refused=refused,
        ))
        if refused:
            # Discord answers nothing at all: the client's connect() times out.
            log.info("voice join refused", bot=bot.name, channel=raw_channel, reason=refused)
        elif channel is None:
            await self._bot_leaves(guild, bot)
        else:
            await self._bot_joins(session, guild, channel, self_mute, self_deaf)

    async def _bot_leaves(self, guild: SimGuild, bot: SimBot) -> None:
        if bot.id in guild.voice_states:
            await self.voice.disconnect_user(guild.id, bot.id)
            await self._forget(guild, bot.id, about_user=bot.id)

    async def _bot_joins(self, session: GatewaySession, guild: SimGuild, channel: SimChannel, self_mute: bool,
                         self_deaf: bool) -> None:
        bot = session.bot
        current = guild.voice_states.get(bot.id)
        same = current is not None and current.channel_id == channel.id and current.session_id == session.id
        state = VoiceState(bot.id, channel.id, session.id, self_mute, self_deaf)
        guild.voice_states[bot.id] = state
        token = self.voice.grant(guild.id, bot.id, session.id, channel.id, reuse=same)
        server_update = {"token": token, "guild_id": str(guild.id), "endpoint": self.voice_endpoint()}
        if same:
            # A refresh while connected (discord.py does this before a voice RESUME): it only completes its
            # handshake wait when the server update comes first.
            await session.dispatch("VOICE_SERVER_UPDATE", server_update)
            await self._announce(guild, state, about_user=bot.id)
            return
        await self._announce(guild, state, about_user=bot.id)
        await session.dispatch("VOICE_SERVER_UPDATE", server_update)
        if current is not None and current.channel_id is not None:
            # A move, or another session of the bot taking its voice over: the old voice connection ends with
            # 4014; the new one connects with the new token.
            await self.voice.disconnect_user(guild.id, bot.id)

    async def session_ended(self, session: GatewaySession) -> None:
        """A gateway session expired: Discord then drops the bot's voice states that belonged to it."""
        for guild in self.world.guilds_of(session.bot):
            state = guild.voice_states.get(session.bot.id)
            if state is not None and state.session_id == session.id:
                await self.voice.disconnect_user(guild.id, session.bot.id, VoiceClose.DISCONNECTED)
                await self._forget(guild, session.bot.id)

    async def kick(self, user_id: int) -> None:
        """Take a user out of voice everywhere (as when someone is disconnected from a channel)."""
        for guild in self.world.guilds.values():
            await self._forget(guild, user_id, about_user=user_id)

    # --- simulated members ----------------------------------------------------------------------------------

    async def member_joins(self, member: SimMember, channel: SimChannel) -> None:
        if not channel.is_voice or channel.guild is not member.guild:
            raise ValueError(f"{channel.name} is not a voice channel of {member.guild.name}")
        if member.channel is channel:
            return
        if member.channel is not None:
            await self.voice.remove_simulated(member, member.channel.id)
        guild = member.guild
        state = guild.voice_states.get(member.id) or VoiceState(member.id, None, secrets.token_hex(16))
        state.channel_id = channel.id
        guild.voice_states[member.id] = state
        member.channel = channel
        await self._announce(guild, state)
        await self.voice.add_simulated(member, channel.id)

    async def member_leaves(self, member: SimMember) -> None:
        if member.channel is None:
            return
        channel, member.channel = member.channel, None
        await self.voice.remove_simulated(member, channel.id)
        guild = member.guild
        state = guild.voice_states.pop(member.id, None)
        await self._announce(guild, VoiceState(member.id, None, state.session_id if state else ""))


def _refusal(channel: SimChannel | None, bot: SimBot) -> str:
    """Why a bot's op 4 into ``channel`` goes unanswered ("" when it may join)."""
    if channel is None or not channel.is_voice:
        return "not a voice channel of the guild"
    for permission, name in ((VIEW_CHANNEL, "View Channel"), (CONNECT, "Connect")):
        if not channel.allows(bot.id, permission):
            return f"missing {name}"
    return ""
