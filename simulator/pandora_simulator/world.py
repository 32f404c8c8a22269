"""The world's state: who and what exists, and the logs of what clients did.

Users, bots, guilds (with their channels, members and voice states), application commands, stored messages, and
the logs tests read. Lookups and bookkeeping only: the rules live in ``voice_states``, ``messages`` and
``interactions``, delivery in the servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pandora_simulator.ids import new_snowflake
from pandora_simulator.model import SimBot, SimChannel, SimGuild, SimInteraction, SimUser
from pandora_simulator.records import (
    ClientMessage,
    InteractionResponse,
    InvalidSession,
    RateLimitHit,
    ReceivedAudio,
    TokenReset,
    VoiceStateRequest,
)


@dataclass(eq=False)
class World:
    owner: SimUser = field(default_factory=lambda: SimUser(id=new_snowflake(), name="simulator-owner"))
    bots_by_token: dict[str, SimBot] = field(default_factory=dict)
    guilds: dict[int, SimGuild] = field(default_factory=dict)
    guild_commands: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)  # (bot, guild)
    message_store: dict[int, dict[str, Any]] = field(default_factory=dict)
    history: dict[int, list[int]] = field(default_factory=dict)  # channel -> message ids, oldest first
    interactions: dict[int, SimInteraction] = field(default_factory=dict)
    # What clients did.
    messages: list[ClientMessage] = field(default_factory=list)
    interaction_responses: list[InteractionResponse] = field(default_factory=list)
    voice_state_log: list[VoiceStateRequest] = field(default_factory=list)
    audio_log: list[ReceivedAudio] = field(default_factory=list)
    invalid_sessions: list[InvalidSession] = field(default_factory=list)
    token_resets: list[TokenReset] = field(default_factory=list)
    rate_limited: list[RateLimitHit] = field(default_factory=list)

    # --- who and what ------------------------------------------------------------------------------------------

    def add_bot(self, bot: SimBot) -> None:
        self.bots_by_token[bot.token] = bot

    def replace_token(self, bot: SimBot, token: str) -> None:
        """The bot's old token stops working (REST 401, gateway 4004); ``token`` logs in instead."""
        self.bots_by_token.pop(bot.token, None)
        bot.token = token
        self.bots_by_token[token] = bot

    def add_guild(self, guild: SimGuild) -> None:
        self.guilds[guild.id] = guild

    def bot_by_token(self, token: str) -> SimBot | None:
        return self.bots_by_token.get(token.removeprefix("Bot ").strip())

    def bot_by_application(self, application_id: str) -> SimBot | None:
        return next((b for b in self.bots_by_token.values() if str(b.application_id) == application_id), None)

    def guilds_of(self, bot: SimBot) -> list[SimGuild]:
        return [guild for guild in self.guilds.values() if bot in guild.bots]

    def guild(self, guild_id: int) -> SimGuild | None:
        return self.guilds.get(guild_id)

    def channel(self, channel_id: int) -> SimChannel | None:
        return next((g.channels[channel_id] for g in self.guilds.values() if channel_id in g.channels), None)

    def users(self) -> Iterator[SimUser]:
        """Every user once: the owner, the bots, then the guilds' members."""
        seen: set[int] = set()
        everyone = [self.owner, *self.bots_by_token.values()]
        everyone += [m.user for guild in self.guilds.values() for m in guild.memberships.values()]
        for account in everyone:
            if account.id not in seen:
                seen.add(account.id)
                yield account

    def user(self, user_id: int) -> SimUser | None:
        return next((account for account in self.users() if account.id == user_id), None)

    # --- commands and messages -----------------------------------------------------------------------------

    def commands_of(self, bot: SimBot, guild: SimGuild | None) -> list[dict[str, Any]]:
        """The bot's global commands (``guild`` None) or its commands registered in ``guild`` (a live list)."""
        if guild is None:
            return bot.commands
        return self.guild_commands.setdefault((bot.id, guild.id), [])

    def store_message(self, message: dict[str, Any]) -> None:
        message_id = int(message["id"])
        self.message_store[message_id] = message
        self.history.setdefault(int(message["channel_id"]), []).append(message_id)

    def interaction_by_token(self, token: str) -> SimInteraction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def message(self, message_id: int) -> dict[str, Any] | None:
        return self.message_store.get(message_id)

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Every message in a channel, oldest first (members', bots' and interaction responses)."""
        return [self.message_store[i] for i in self.history.get(channel_id, []) if i in self.message_store]
