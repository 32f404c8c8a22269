"""Message rules: what a new message looks like, who is told about it, and edits, replies and deletes.

MESSAGE_CREATE content is blanked for sessions without the message-content intent unless the bot is mentioned or
the author, as Discord does.
"""

from __future__ import annotations

from typing import Any

from pandora_simulator import shapes
from pandora_simulator.gateway_sessions import GatewaySessions
from pandora_simulator.ids import new_snowflake, snowflake_time_iso
from pandora_simulator.logs import log
from pandora_simulator.model import SimBot, SimChannel, SimMember, SimUser
from pandora_simulator.opcodes import Intent
from pandora_simulator.records import ClientMessage
from pandora_simulator.world import World

DEFAULT_MESSAGE = 0
REPLY_MESSAGE = 19


class Messages:
    def __init__(self, world: World, sessions: GatewaySessions) -> None:
        self.world = world
        self.sessions = sessions

    def new_payload(self, channel: SimChannel, author: SimUser, body: dict[str, Any]) -> dict[str, Any]:
        """A fresh message object (not stored yet) from a create body."""
        message_id = new_snowflake()
        content = str(body.get("content") or "")
        mentions = [shapes.user(u) for u in self.world.users() if f"<@{u.id}>" in content or f"<@!{u.id}>" in content]
        return {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "author": shapes.user(author),
            "content": content,
            "timestamp": snowflake_time_iso(message_id),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": [],
            "embeds": list(body.get("embeds") or []),
            "pinned": False,
            "type": DEFAULT_MESSAGE,
            "flags": int(body.get("flags") or 0),
            "components": list(body.get("components") or []),
            "nonce": body.get("nonce"),
        }

    async def store(self, message: dict[str, Any], *, dispatch: bool = True) -> None:
        self.world.store_message(message)
        channel = self.world.channel(int(message["channel_id"]))
        if dispatch and channel is not None:
            await self._dispatch_create(channel, message)

    async def _dispatch_create(self, channel: SimChannel, message: dict[str, Any]) -> None:
        guild = channel.guild
        author_id = int(message["author"]["id"])
        event = {**message, "guild_id": str(guild.id)}
        if author_id in guild.memberships:
            event["member"] = shapes.member(guild.memberships[author_id], with_user=False)
        hidden = {**event, "content": "", "embeds": [], "attachments": [], "components": []}
        for bot in guild.bots:
            mentioned = any(m["id"] == str(bot.id) for m in message["mentions"])
            for session in self.sessions.of(bot.id):
                if not session.wants(Intent.GUILD_MESSAGES):
                    continue
                visible = session.wants(Intent.MESSAGE_CONTENT) or author_id == bot.id or mentioned
                await session.dispatch("MESSAGE_CREATE", event if visible else hidden)

    async def member_sends(self, member: SimMember, channel: SimChannel, content: str) -> dict[str, Any]:
        message = self.new_payload(channel, member.user, {"content": content})
        await self.store(message)
        return message

    async def bot_creates(self, bot: SimBot, channel: SimChannel, body: dict[str, Any]) -> dict[str, Any]:
        message = self.new_payload(channel, bot, body)
        reference = body.get("message_reference") or {}
        referenced = self.world.message(int(reference.get("message_id") or 0))
        if referenced is not None:
            message.update({
                "type": REPLY_MESSAGE,
                "message_reference": {"type": 0, "message_id": referenced["id"], "channel_id": referenced["channel_id"],
                                      "guild_id": str(channel.guild.id)},
                "referenced_message": referenced,
            })
        await self.store(message)
        self.world.messages.append(ClientMessage(
            action="create", message_id=int(message["id"]), channel_id=channel.id, author_id=bot.id,
            content=message["content"], embeds=message["embeds"], body=body,
            reply_to=int(referenced["id"]) if referenced is not None else None,
        ))
        log.info("bot message", bot=bot.name, channel=channel.name, content=message["content"])
        return message

    async def update(self, message: dict[str, Any], body: dict[str, Any], *, clear_flags: int = 0) -> dict[str, Any]:
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["flags"] = int(message.get("flags") or 0) & ~clear_flags
        message["edited_timestamp"] = snowflake_time_iso(new_snowflake())
        channel = self.world.channel(int(message["channel_id"]))
        if channel is not None:
            event = {**message, "guild_id": str(channel.guild.id)}
            await self.sessions.to_guild(channel.guild, "MESSAGE_UPDATE", event, Intent.GUILD_MESSAGES)
        return message

    async def bot_edits(self, bot: SimBot, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        updated = await self.update(message, body)
        self.world.messages.append(ClientMessage(
            action="edit", message_id=int(updated["id"]), channel_id=int(updated["channel_id"]), author_id=bot.id,
            content=updated["content"], embeds=updated["embeds"], body=body,
        ))
        return updated

    async def delete(self, channel: SimChannel, message_id: int) -> None:
        self.world.message_store.pop(message_id, None)
        await self.sessions.to_guild(channel.guild, "MESSAGE_DELETE", {
            "id": str(message_id), "channel_id": str(channel.id), "guild_id": str(channel.guild.id),
        }, Intent.GUILD_MESSAGES)
