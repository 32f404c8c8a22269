"""Slash-command interactions: creation from a simulated member, and the bot's callback / follow-up / edits."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pandora_simulator.ids import new_snowflake
from pandora_simulator.logs import log
from pandora_simulator.model import DEFAULT_PERMISSIONS, SimBot, SimChannel, SimUser
from pandora_simulator.records import InteractionResponse
from pandora_simulator.rest import DiscordError, not_found

if TYPE_CHECKING:
    from pandora_simulator.simulator import DiscordSimulator

EPHEMERAL = 1 << 6
LOADING = 1 << 7
CHAT_INPUT_COMMAND_MESSAGE = 20
# Application command option types (https://discord.com/developers/docs/interactions/application-commands).
OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_CHANNEL, OPTION_NUMBER = 3, 4, 5, 7, 10


@dataclass(eq=False)
class SimInteraction:
    """An interaction the simulator sent to a bot; await :meth:`wait_response` for the bot's first answer."""

    id: int
    token: str
    bot: SimBot
    user: SimUser
    channel: SimChannel
    command: str
    options: dict[str, Any]
    responded: bool = False
    original_message_id: int | None = None
    responses: list[InteractionResponse] = field(default_factory=list)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_response(self, timeout: float = 10.0) -> InteractionResponse:
        await asyncio.wait_for(self._answered.wait(), timeout)
        return self.responses[0]


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


class Interactions:
    def __init__(self, simulator: DiscordSimulator) -> None:
        self.sim = simulator
        self.by_id: dict[int, SimInteraction] = {}
        self.by_token: dict[str, SimInteraction] = {}

    async def invoke(
        self, user: SimUser, bot: SimBot, name: str, options: dict[str, Any], channel: SimChannel
    ) -> SimInteraction:
        guild = channel.guild
        commands = self.sim.guild_commands.get((bot.id, guild.id), []) + bot.commands
        command = next((c for c in commands if c["name"] == name), None)
        if command is None:
            raise LookupError(f"{bot.name} has no application command named {name!r} (sync the command tree first)")
        declared = {o["name"]: o for o in command.get("options") or []}
        option_payload = []
        for key, value in options.items():
            kind = _option_type(declared.get(key), value)
            option_payload.append({"name": key, "type": kind, "value": str(value) if kind == OPTION_CHANNEL else value})
        interaction = SimInteraction(
            id=new_snowflake(), token=f"aW50ZXJhY3Rpb24.{secrets.token_urlsafe(48)}", bot=bot, user=user,
            channel=channel, command=name, options=options,
        )
        self.by_id[interaction.id] = interaction
        self.by_token[interaction.token] = interaction
        member = guild.memberships[user.id].payload()
        member["permissions"] = str(DEFAULT_PERMISSIONS)
        data: dict[str, Any] = {
            "id": str(interaction.id),
            "application_id": str(bot.application_id),
            "type": 2,
            "data": {"id": command["id"], "name": name, "type": 1, "options": option_payload,
                     "guild_id": str(guild.id)},
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "member": member,
            "token": interaction.token,
            "version": 1,
            "app_permissions": str(guild.bot_permissions & ~channel.bot_denied),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        log.info("interaction", user=user.name, bot=bot.name, command=name)
        await self.sim.gateway.dispatch_to_bot(bot.id, "INTERACTION_CREATE", data)
        return interaction

    def _by_webhook(self, app_id: str, token: str) -> SimInteraction:
        interaction = self.by_token.get(token)
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
        self.sim.interaction_responses.append(response)
        interaction._answered.set()

    def _message(self, interaction: SimInteraction, body: dict[str, Any], flags: int) -> dict[str, Any]:
        bot = interaction.bot
        message = self.sim.new_message_payload(interaction.channel, bot, body)
        message.update({
            "type": CHAT_INPUT_COMMAND_MESSAGE,
            "flags": flags,
            "webhook_id": str(bot.application_id),
            "application_id": str(bot.application_id),
            "interaction_metadata": {
                "id": str(interaction.id), "type": 2, "name": interaction.command, "user": interaction.user.payload(),
                "authorizing_integration_owners": {"0": str(interaction.channel.guild.id)},
            },
        })
        return message

    async def callback(self, interaction_id: int, token: str, body: dict[str, Any]) -> dict[str, Any]:
        interaction = self.by_id.get(interaction_id)
        if interaction is None or interaction.token != token:
            raise not_found("interaction", 10062)
        if interaction.responded:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        interaction.responded = True
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        self._record(interaction, "callback", {**data, "type": kind}, kind)
        result: dict[str, Any] = {
            "interaction": {"id": str(interaction.id), "type": 2, "response_message_loading": kind == 5,
                            "response_message_ephemeral": bool(flags & EPHEMERAL)},
        }
        if kind in (4, 5):
            message = self._message(interaction, data if kind == 4 else {}, flags | (LOADING if kind == 5 else 0))
            await self.sim.store_message(message, dispatch=not flags & EPHEMERAL)
            interaction.original_message_id = int(message["id"])
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"] = {"type": kind, "message": message}
        else:
            result["resource"] = {"type": kind}
        return result

    async def followup(self, app_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        interaction = self._by_webhook(app_id, token)
        if not interaction.responded:
            raise not_found("Webhook", 10015)
        flags = int(body.get("flags") or 0)
        message = self._message(interaction, body, flags)
        await self.sim.store_message(message, dispatch=not flags & EPHEMERAL)
        self._record(interaction, "followup", body, None)
        return message

    def message(self, app_id: str, token: str, message_id: str) -> dict[str, Any]:
        interaction = self._by_webhook(app_id, token)
        wanted = interaction.original_message_id if message_id == "@original" else int(message_id)
        message = self.sim.message_store.get(wanted or 0)
        if message is None:
            raise not_found("Message", 10008)
        return message

    async def edit(self, app_id: str, token: str, message_id: str, body: dict[str, Any]) -> dict[str, Any]:
        interaction = self._by_webhook(app_id, token)
        if message_id == "@original" and interaction.original_message_id is None:
            raise not_found("Message", 10008)
        message = self.message(app_id, token, message_id)
        updated = await self.sim.update_message(message, body, clear_flags=LOADING)
        self._record(interaction, "edit_original" if message_id == "@original" else "edit", body, None)
        return updated
