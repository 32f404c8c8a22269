"""Interaction rules: a simulated member's slash command, and the bot's callback, follow-ups and edits.

INTERACTION_CREATE goes to every gateway session of the bot; an interaction is acknowledged once (a second
callback is refused with 40060, whichever session sends it).
"""

from __future__ import annotations

import secrets
from typing import Any

from pandora_simulator import shapes
from pandora_simulator.errors import already_acknowledged, not_found
from pandora_simulator.gateway_sessions import GatewaySessions
from pandora_simulator.ids import new_snowflake
from pandora_simulator.logs import log
from pandora_simulator.messages import Messages
from pandora_simulator.model import SimBot, SimChannel, SimInteraction, SimUser
from pandora_simulator.records import InteractionResponse
from pandora_simulator.world import World

EPHEMERAL = 1 << 6
LOADING = 1 << 7
CHAT_INPUT_COMMAND_MESSAGE = 20
APPLICATION_COMMAND = 2  # interaction type
CHAT_INPUT = 1  # application command type
# Interaction callback types.
CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 4, 5
# Application command option types (https://discord.com/developers/docs/interactions/application-commands).
OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_CHANNEL, OPTION_NUMBER = 3, 4, 5, 7, 10


def _option_type(declared: dict[str, Any] | None, value: Any) -> int:
    if declared is not None:
        return int(declared.get("type", OPTION_STRING))
    if isinstance(value, bool):
        return OPTION_BOOLEAN
    if isinstance(value, int):
        return OPTION_INTEGER
    if isinstance(value, float):
        return OPTION_NUMBER
    return OPTION_STRING


def _options_payload(command: dict[str, Any], options: dict[str, Any]) -> list[dict[str, Any]]:
    declared = {o["name"]: o for o in command.get("options") or []}
    payload = []
    for key, value in options.items():
        kind = _option_type(declared.get(key), value)
        payload.append({"name": key, "type": kind, "value": str(value) if kind == OPTION_CHANNEL else value})
    return payload


class Interactions:
    def __init__(self, world: World, messages: Messages, sessions: GatewaySessions) -> None:
        self.world = world
        self.messages = messages
        self.sessions = sessions

    async def invoke(
        self, user: SimUser, bot: SimBot, name: str, options: dict[str, Any], channel: SimChannel
    ) -> SimInteraction:
        guild = channel.guild
        commands = self.world.commands_of(bot, guild) + self.world.commands_of(bot, None)
        command = next((c for c in commands if c["name"] == name), None)
        if command is None:
            raise LookupError(f"{bot.name} has no application command named {name!r} (sync the command tree first)")
        interaction = SimInteraction(
            id=new_snowflake(), token=f"aW50ZXJhY3Rpb24.{secrets.token_urlsafe(48)}", bot=bot, user=user,
            channel=channel, command=name, options=options,
        )
        self.world.interactions[interaction.id] = interaction
        log.info("interaction", user=user.name, bot=bot.name, command=name)
        await self.sessions.to_bot(bot.id, "INTERACTION_CREATE", self._create_payload(interaction, command))
        return interaction

    def _create_payload(self, interaction: SimInteraction, command: dict[str, Any]) -> dict[str, Any]:
        channel, guild = interaction.channel, interaction.channel.guild
        member = shapes.member(guild.memberships[interaction.user.id])
        member["permissions"] = str(channel.permissions_of(interaction.user.id))
        return {
            "id": str(interaction.id),
            "application_id": str(interaction.bot.application_id),
            "type": APPLICATION_COMMAND,
            "data": {"id": command["id"], "name": interaction.command, "type": CHAT_INPUT,
                     "options": _options_payload(command, interaction.options), "guild_id": str(guild.id)},
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": shapes.channel(channel),
            "member": member,
            "token": interaction.token,
            "version": 1,
            "app_permissions": str(channel.permissions_of(interaction.bot.id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }

    def _by_webhook(self, app_id: str, token: str) -> SimInteraction:
        interaction = self.world.interaction_by_token(token)
        if interaction is None or str(interaction.bot.application_id) != app_id:
            raise not_found("Webhook", 10015)
        return interaction

    def _record(self, interaction: SimInteraction, action: str, body: dict[str, Any], kind: int | None) -> None:
        response = InteractionResponse(
            action=action, interaction_id=interaction.id, command=interaction.command,
            channel_id=interaction.channel.id, author_id=interaction.bot.id, content=str(body.get("content") or ""),
            type=kind, ephemeral=bool(int(body.get("flags") or 0) & EPHEMERAL), body=body,
        )
        interaction.responses.append(response)
        self.world.interaction_responses.append(response)
        interaction.answered.set()

    def _message(self, interaction: SimInteraction, body: dict[str, Any], flags: int) -> dict[str, Any]:
        bot = interaction.bot
        message = self.messages.new_payload(interaction.channel, bot, body)
        message.update({
            "type": CHAT_INPUT_COMMAND_MESSAGE,
            "flags": flags,
            "webhook_id": str(bot.application_id),
            "application_id": str(bot.application_id),
            "interaction_metadata": {
                "id": str(interaction.id), "type": APPLICATION_COMMAND, "name": interaction.command,
                "user": shapes.user(interaction.user),
                "authorizing_integration_owners": {"0": str(interaction.channel.guild.id)},
            },
        })
        return message

    async def callback(self, interaction_id: int, token: str, body: dict[str, Any]) -> dict[str, Any]:
        interaction = self.world.interactions.get(interaction_id)
        if interaction is None or interaction.token != token:
            raise not_found("interaction", 10062)
        if interaction.responded:
            raise already_acknowledged()
        interaction.responded = True
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        self._record(interaction, "callback", {**data, "type": kind}, kind)
        result: dict[str, Any] = {
            "interaction": {"id": str(interaction.id), "type": APPLICATION_COMMAND,
                            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                            "response_message_ephemeral": bool(flags & EPHEMERAL)},
        }
        if kind not in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE):
            result["resource"] = {"type": kind}
            return result
        deferred = kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        message = self._message(interaction, {} if deferred else data, flags | (LOADING if deferred else 0))
        await self.messages.store(message, dispatch=not flags & EPHEMERAL)
        interaction.original_message_id = int(message["id"])
        result["interaction"]["response_message_id"] = message["id"]
        result["resource"] = {"type": kind, "message": message}
        return result

    async def followup(self, app_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        interaction = self._by_webhook(app_id, token)
        if not interaction.responded:
            raise not_found("Webhook", 10015)
        flags = int(body.get("flags") or 0)
        message = self._message(interaction, body, flags)
        await self.messages.store(message, dispatch=not flags & EPHEMERAL)
        self._record(interaction, "followup", body, None)
        return message

    def message(self, app_id: str, token: str, message_id: str) -> dict[str, Any]:
        interaction = self._by_webhook(app_id, token)
        wanted = interaction.original_message_id if message_id == "@original" else int(message_id)
        message = self.world.message(wanted or 0)
        if message is None:
            raise not_found("Message", 10008)
        return message

    async def edit(self, app_id: str, token: str, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
        interaction = self._by_webhook(app_id, token)
        if message_id == "@original" and interaction.original_message_id is None:
            raise not_found("Message", 10008)
        message = self.message(app_id, token, message_id)
        updated = await self.messages.update(message, body, clear_flags=LOADING)
        self._record(interaction, "edit_original" if message_id == "@original" else "edit", body, None)
        return updated
