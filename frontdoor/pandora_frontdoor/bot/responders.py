"""How one command is answered: in the channel (text commands) or through the interaction (slash commands).

A slash command is acknowledged within Discord's 3 s: refusals at once (ephemeral), everything that takes time
deferred ("Pandora is thinking...") and the deferred reply edited to the result; a failure after the deferral
replaces it with an ephemeral follow-up, so errors are only shown to the one who asked.
"""

from __future__ import annotations

import discord

from pandora.logging import get_logger

log = get_logger(__name__)

NO_PINGS = discord.AllowedMentions.none()  # replies name people and roles without notifying them
ALREADY_ACKNOWLEDGED = 40060  # another process answered this interaction first
UNKNOWN_INTERACTION = 10062  # too late (3 s) or not ours


class TextResponder:
    """Implements ``desk.Responder`` for a text command: plain messages in the command's channel."""

    def __init__(self, channel: discord.abc.Messageable) -> None:
        self.channel = channel

    async def _send(self, text: str) -> None:
        try:
            await self.channel.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:  # no Send Messages here: nowhere else to answer
            log.warning("reply not posted", error=str(error), text=text)

    async def refuse(self, text: str) -> None:
        await self._send(text)

    async def working(self) -> None:
        return None

    async def answer(self, text: str) -> None:
        await self._send(text)

    async def fail(self, text: str) -> None:
        await self._send(text)


class SlashResponder:
    """Implements ``desk.Responder`` for a slash command."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.deferred = False

    async def refuse(self, text: str) -> None:
        await self._say(text, ephemeral=True)

    async def working(self) -> None:
        try:
            await self.interaction.response.defer(thinking=True)
            self.deferred = True
        except discord.HTTPException as error:
            self._log_failure("deferring", error)

    async def answer(self, text: str) -> None:
        if self.deferred:
            try:
                await self.interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)
            except discord.HTTPException as error:
                self._log_failure("editing the reply", error)
            return
        await self._say(text, ephemeral=False)

    async def fail(self, text: str) -> None:
        if self.deferred:
            try:
                await self.interaction.delete_original_response()
            except discord.HTTPException as error:
                self._log_failure("deleting the deferred reply", error)
        await self._say(text, ephemeral=True)

    async def _say(self, text: str, *, ephemeral: bool) -> None:
        try:
            if self.interaction.response.is_done():
                await self.interaction.followup.send(text, ephemeral=ephemeral, allowed_mentions=NO_PINGS)
            else:
                await self.interaction.response.send_message(text, ephemeral=ephemeral, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            self._log_failure("answering", error)

    def _log_failure(self, doing: str, error: discord.HTTPException) -> None:
        if error.code == ALREADY_ACKNOWLEDGED:
            log.warning("another process answered this interaction: only one front door may run per bot token",
                        interaction=self.interaction.id)
        else:
            log.warning(f"interaction reply failed while {doing}", interaction=self.interaction.id,
                        status=error.status, code=error.code, error=error.text)


class ChannelNotices:
    """Implements ``desk.Notices``: a message in a text channel of any guild the bot is in."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def post(self, text_channel_id: int, text: str) -> None:
        channel = self.client.get_channel(text_channel_id) or await self.client.fetch_channel(text_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise LookupError(f"channel {text_channel_id} cannot hold messages")
        await channel.send(text, allowed_mentions=NO_PINGS)
