"""The front door's Discord client: text and slash commands in, the desk's answers out.

One gateway session answers commands. Recorder pods of the same token see the same events but have no command
tree, so they never acknowledge an interaction (DESIGN.md §9). The intents are what the commands need: guilds and
voice states (where the member is), and guild messages with the privileged message content only when text
commands are on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands

from pandora.identify.client import PacedClient
from pandora.identify.limits import FRONT_DOOR_RESERVE
from pandora.identify.pacer import IdentifyPacer
from pandora.identify.slots import MemoryIdentifySlots
from pandora.logging import get_logger
from pandora_frontdoor.bot.responders import SlashResponder, TextResponder
from pandora_frontdoor.bot.views import DiscordGuildView, member_facts, missing_to_send
from pandora_frontdoor.config import FrontDoorConfig
from pandora_frontdoor.desk import CommandDesk, Invocation
from pandora_frontdoor.parsing import Command, Verb, parse_text_command
from pandora_frontdoor.recordings import Source

log = get_logger(__name__)

# The original Pandora's descriptions for /record and /end, with the new channel option.
RECORD_DESCRIPTION = "Record the voice channel the user is in"
END_DESCRIPTION = "End a previously started recording"
STATUS_DESCRIPTION = "Show what is being recorded in this server"


MESSAGE_CONTENT_NEEDED = ("Discord refused the Message Content intent that text commands (COMMAND_PREFIX) need: enable "
                          "Message Content for the bot in the Developer Portal (Bot, Privileged Gateway Intents), or "
                          "unset COMMAND_PREFIX to use slash commands only")
SOMETHING_WENT_WRONG = "Something went wrong on my side with that command; it has been logged. Try again."


class ChannelId(app_commands.Transformer):
    """A voice channel option, read as its id: the desk looks the channel up itself and explains what is wrong
    with it, and the id is all a request needs."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.voice]

    async def transform(self, interaction: discord.Interaction, value: Any) -> int:
        return int(value.id)


def front_door_intents(config: FrontDoorConfig) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    if config.prefix:
        intents.guild_messages = True
        intents.message_content = True
    return intents


class FrontDoorClient(PacedClient):
    """Set ``desk`` before connecting; commands that arrive without one are not answered (startup only). Its
    IDENTIFYs are paced (``pandora.identify``) with the front door's smaller reserve; by default it shares slots
    with no other process."""

    def __init__(self, config: FrontDoorConfig, *, pacer: IdentifyPacer | None = None, **options: Any) -> None:
        super().__init__(pacer or IdentifyPacer(MemoryIdentifySlots(), reserve=FRONT_DOOR_RESERVE),
                         intents=front_door_intents(config), **options)
        self.config = config
        self.desk: CommandDesk | None = None
        self.tree: app_commands.CommandTree[FrontDoorClient] | None = None
        if config.interactions:
            self.tree = app_commands.CommandTree(self)
            self._install_commands(self.tree)

    # -- slash commands --------------------------------------------------------------------------------------

    def _install_commands(self, tree: app_commands.CommandTree[FrontDoorClient]) -> None:
        @tree.command(name="record", description=RECORD_DESCRIPTION)
        @app_commands.describe(channel="A voice channel to record instead of the one you are in")
        @app_commands.guild_only()
        async def record(interaction: discord.Interaction,
                         channel: app_commands.Transform[int, ChannelId] | None = None) -> None:
            await self._slash(interaction, Command(Verb.RECORD, channel_id=channel))

        @tree.command(name="end", description=END_DESCRIPTION)
        @app_commands.guild_only()
        async def end(interaction: discord.Interaction) -> None:
            await self._slash(interaction, Command(Verb.END))

        @tree.command(name="status", description=STATUS_DESCRIPTION)
        @app_commands.guild_only()
        async def status(interaction: discord.Interaction) -> None:
            await self._slash(interaction, Command(Verb.STATUS))

        @tree.error
        async def failed(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
            log.error("slash command failed", command=interaction.command.name if interaction.command else None,
                      error=repr(error.__cause__ or error))
            await SlashResponder(interaction).fail(SOMETHING_WENT_WRONG)  # never leave the user "thinking..."

    async def setup_hook(self) -> None:
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Register /record, /end, /status (globally, or in the configured guilds); with interactions disabled,
        remove the ones a previous run registered."""
        guilds = [discord.Object(guild_id) for guild_id in sorted(self.config.command_guilds)]
        try:
            if self.tree is None:
                await self._remove_commands(guilds)
                return
            if guilds:
                for guild in guilds:
                    self.tree.copy_global_to(guild=guild)
                    await self.tree.sync(guild=guild)
                self.tree.clear_commands(guild=None)
            await self.tree.sync()  # global: the commands, or none when they live in guilds
            log.info("slash commands synced", scope="guilds" if guilds else "global", guilds=len(guilds))
        except discord.HTTPException as error:
            log.error("slash commands not synced", status=error.status, error=error.text)

    async def _remove_commands(self, guilds: Iterable[discord.Object]) -> None:
        assert self.application_id is not None
        await self.http.bulk_upsert_global_commands(self.application_id, [])
        for guild in guilds:
            await self.http.bulk_upsert_guild_commands(self.application_id, guild.id, [])
        log.info("interactions disabled: slash commands removed")

    async def _slash(self, interaction: discord.Interaction, command: Command) -> None:
        guild = interaction.guild
        if self.desk is None or guild is None or not isinstance(interaction.user, discord.Member):
            return
        text_channel = interaction.channel
        text_missing = (missing_to_send(text_channel, guild.me)
                        if isinstance(text_channel, discord.abc.GuildChannel | discord.Thread) else ())
        invocation = Invocation(
            key=f"interaction:{interaction.id}", source=Source.SLASH_COMMAND, guild_id=guild.id,
            text_channel_id=interaction.channel_id or 0,
            member=member_facts(interaction.user, manage_guild=interaction.permissions.manage_guild),
            command=command, text_missing=text_missing,
        )
        await self.desk.handle(invocation, DiscordGuildView(guild), SlashResponder(interaction))

    # -- text commands ---------------------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        prefix = self.config.prefix
        if not prefix or self.desk is None or message.guild is None or message.author.bot:
            return
        command = parse_text_command(message.content, prefix)
        if command is None or not isinstance(message.author, discord.Member):
            return
        channel = message.channel
        text_missing = (missing_to_send(channel, message.guild.me)
                        if isinstance(channel, discord.abc.GuildChannel | discord.Thread) else ())
        invocation = Invocation(
            key=f"message:{message.id}", source=Source.TEXT_COMMAND, guild_id=message.guild.id,
            text_channel_id=channel.id, member=member_facts(message.author), command=command,
            text_missing=text_missing,
        )
        responder = TextResponder(channel)
        try:
            await self.desk.handle(invocation, DiscordGuildView(message.guild), responder)
        except Exception:
            log.exception("text command failed", verb=command.verb.value)
            await responder.fail(SOMETHING_WENT_WRONG)
