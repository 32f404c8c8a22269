"""The local Discord: world state, the three servers (REST + gateway, voice websocket, UDP) and the scenario API."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from pandora_simulator.gateway import (
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILD_VOICE_STATES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    GatewayServer,
    GatewaySession,
)
from pandora_simulator.ids import new_snowflake, snowflake_time_iso
from pandora_simulator.interactions import Interactions
from pandora_simulator.logs import log
from pandora_simulator.members import SimMember
from pandora_simulator.model import CONNECT, Membership, SimBot, SimChannel, SimGuild, SimUser, VoiceState, new_bot
from pandora_simulator.records import ClientMessage, InteractionResponse, ReceivedAudio, VoiceStateRequest
from pandora_simulator.rest import RestApi
from pandora_simulator.tls import SimulatorCertificates
from pandora_simulator.voice_server import VoiceServer


class DiscordSimulator:
    """A local Discord on 127.0.0.1: ``async with DiscordSimulator() as sim: ...``.

    Build the world with :meth:`create_bot`, :meth:`create_guild`, ``guild.create_voice_channel`` and
    ``guild.add_member``; point a client at it with :meth:`connection_env`; then drive members and read the logs
    (:attr:`messages`, :attr:`interaction_responses`, :attr:`voice_state_log`, :attr:`audio_log`).
    """

    def __init__(self, host: str = "127.0.0.1", *, port: int = 0, voice_port: int = 0, dave: bool = True) -> None:
        self.host = host
        self._port, self._voice_port = port, voice_port
        self.dave_enabled = dave
        self.owner = SimUser(id=new_snowflake(), name="simulator-owner")
        self.users: dict[int, SimUser] = {self.owner.id: self.owner}
        self.bots_by_token: dict[str, SimBot] = {}
        self.guilds: dict[int, SimGuild] = {}
        self.channels: dict[int, SimChannel] = {}
        self.guild_commands: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.message_store: dict[int, dict[str, Any]] = {}
        self._history: dict[int, list[int]] = {}
        # What clients did.
        self.messages: list[ClientMessage] = []
        self.interaction_responses: list[InteractionResponse] = []
        self.voice_state_log: list[VoiceStateRequest] = []
        self.audio_log: list[ReceivedAudio] = []

        self.gateway = GatewayServer(self)
        self.voice = VoiceServer(self)
        self.interactions = Interactions(self)
        self.rest = RestApi(self)
        self.certificates: SimulatorCertificates | None = None
        self._runners: list[web.AppRunner] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.voice_port = 0
        self.started = False

    # --- lifecycle -------------------------------------------------------------------------------------------------

    async def __aenter__(self) -> DiscordSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self.certificates = SimulatorCertificates.generate(self.host)
        app = web.Application(middlewares=[RestApi.errors])
        app.add_routes(self.rest.routes())
        app.add_routes([web.get("/gateway", self.gateway.handle), web.get("/gateway/", self.gateway.handle)])
        self.port = await self._serve(app, self._port, None)
        voice_app = web.Application()
        voice_app.add_routes([web.get("/", self.voice.handle)])
        self.voice_port = await self._serve(voice_app, self._voice_port, self.certificates.server_context)
        await self.voice.start_udp(self.host)
        self.started = True
        log.info("simulator listening", api=self.api_url, gateway=self.gateway_url, voice=self.voice_endpoint,
                 udp=self.voice.udp_port)

    async def _serve(self, app: web.Application, port: int, ssl_context: Any) -> int:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, ssl_context=ssl_context)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    async def close(self) -> None:
        await self.voice.close()
        await self.gateway.close()
        for task in list(self._tasks):
            task.cancel()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.certificates is not None:
            self.certificates.cleanup()
        self.started = False

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- addresses --------------------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def voice_endpoint(self) -> str:
        return f"{self.host}:{self.voice_port}"

    @property
    def ca_file(self) -> str:
        assert self.certificates is not None, "start the simulator first"
        return str(self.certificates.ca_file)

    def connection_env(self, bot: SimBot | None = None) -> dict[str, str]:
        """The environment a Pandora client needs to use this simulator (see pandora.discord_connection)."""
        env = {
            "PANDORA_DISCORD_API_URL": self.api_url,
            "PANDORA_DISCORD_GATEWAY_URL": self.gateway_url,
            "PANDORA_DISCORD_CA_FILE": self.ca_file,
        }
        if bot is not None:
            env["PANDORA_TOKEN"] = bot.token
        return env

    # --- building the world -----------------------------------------------------------------------------------------

    def create_bot(self, name: str) -> SimBot:
        bot = new_bot(name)
        self.bots_by_token[bot.token] = bot
        self.users[bot.id] = bot
        return bot

    def create_guild(self, name: str, bots: list[SimBot] | None = None) -> SimGuild:
        guild = SimGuild(id=new_snowflake(), name=name, owner_id=self.owner.id, simulator=self)
        guild.memberships[self.owner.id] = _owner_membership(self.owner)
        self.guilds[guild.id] = guild
        for bot in bots or []:
            self.add_bot_to_guild(bot, guild)
        return guild

    def add_bot_to_guild(self, bot: SimBot, guild: SimGuild) -> None:
        guild.add_bot(bot)
        if self.started:
            self.spawn(self.gateway.dispatch_to_bot(bot.id, "GUILD_CREATE", guild.create_payload(bot),
                                                    INTENT_GUILDS))

    def announce(self, guild: SimGuild, event: str, data: dict[str, Any]) -> None:
        """Tell connected bots about a change made through the (synchronous) world-building API."""
        if self.started:
            intent = INTENT_GUILD_MEMBERS if event.startswith("GUILD_MEMBER") else INTENT_GUILDS
            self.spawn(self.dispatch_guild(guild, event, data, intent))

    def guilds_of(self, bot: SimBot) -> list[SimGuild]:
        return [guild for guild in self.guilds.values() if bot in guild.bots]

    async def dispatch_guild(self, guild: SimGuild, event: str, data: Any, intent: int | None,
                             *, about_user: int | None = None) -> None:
        """Send a guild event to every session of every bot in the guild (own events ignore the intent)."""
        for bot in guild.bots:
            for session in self.gateway.sessions_of(bot.id):
                if session.wants(intent) or bot.id == about_user:
                    await session.dispatch(event, data)

    # --- voice states -------------------------------------------------------------------------------------------

    async def handle_voice_state_request(self, session: GatewaySession, data: Any) -> None:
        """Gateway op 4 from a bot: join, move or leave voice."""
        data = data or {}
        guild = self.guilds.get(int(data.get("guild_id") or 0))
        bot = session.bot
        if guild is None or bot not in guild.bots:
            return
        raw_channel = data.get("channel_id")
        channel_id = int(raw_channel) if raw_channel else None
        self.voice_state_log.append(VoiceStateRequest(
            user_id=bot.id, guild_id=guild.id, channel_id=channel_id,
            self_mute=bool(data.get("self_mute")), self_deaf=bool(data.get("self_deaf")),
        ))
        current = guild.voice_states.get(bot.id)
        if channel_id is None:
            if current is not None:
                del guild.voice_states[bot.id]
                await self.voice.disconnect_user(guild.id, bot.id)
                left = VoiceState(bot.id, None, current.session_id)
                await self.dispatch_guild(guild, "VOICE_STATE_UPDATE", left.payload(guild),
                                          INTENT_GUILD_VOICE_STATES, about_user=bot.id)
            return
        channel = self.channels.get(channel_id)
        if channel is None or channel.guild is not guild or not channel.is_voice or not channel.bot_may(CONNECT):
            log.info("voice join refused", bot=bot.name, channel=channel_id)
            return
        same = current is not None and current.channel_id == channel_id and current.session_id == session.id
        state = VoiceState(bot.id, channel_id, session.id, bool(data.get("self_mute")), bool(data.get("self_deaf")))
        guild.voice_states[bot.id] = state
        token = self.voice.grant(guild.id, bot.id, session.id, channel_id, reuse=same)
        server_update = {"token": token, "guild_id": str(guild.id), "endpoint": self.voice_endpoint}
        state_update = state.payload(guild)
        if same:
            # A refresh while connected (discord.py does this before a voice RESUME): it only completes its
            # handshake wait when the server update comes first.
            await session.dispatch("VOICE_SERVER_UPDATE", server_update)
            await self.dispatch_guild(guild, "VOICE_STATE_UPDATE", state_update, INTENT_GUILD_VOICE_STATES,
                                      about_user=bot.id)
        else:
            await self.dispatch_guild(guild, "VOICE_STATE_UPDATE", state_update, INTENT_GUILD_VOICE_STATES,
                                      about_user=bot.id)
            await session.dispatch("VOICE_SERVER_UPDATE", server_update)
            if current is not None and current.channel_id != channel_id:
                # A move: the old voice session ends with 4014; the client connects anew with the new token.
                await self.voice.disconnect_user(guild.id, bot.id)

    async def forget_gateway_session(self, session: GatewaySession) -> None:
        """A gateway session expired: Discord then drops the bot's voice states that belonged to it."""
        for guild in self.guilds_of(session.bot):
            state = guild.voice_states.get(session.bot.id)
            if state is not None and state.session_id == session.id:
                del guild.voice_states[session.bot.id]
                await self.voice.disconnect_user(guild.id, session.bot.id)
                gone = VoiceState(session.bot.id, None, session.id)
                await self.dispatch_guild(guild, "VOICE_STATE_UPDATE", gone.payload(guild), INTENT_GUILD_VOICE_STATES)

    async def member_joins_voice(self, member: SimMember, channel: SimChannel) -> None:
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
        await self.dispatch_guild(guild, "VOICE_STATE_UPDATE", state.payload(guild), INTENT_GUILD_VOICE_STATES)
        member.participant = await self.voice.add_simulated(member, channel.id)

    async def member_leaves_voice(self, member: SimMember) -> None:
        if member.channel is None:
            return
        channel, member.channel = member.channel, None
        member.participant = None
        await self.voice.remove_simulated(member, channel.id)
        guild = member.guild
        state = guild.voice_states.pop(member.id, None)
        gone = VoiceState(member.id, None, state.session_id if state else "")
        await self.dispatch_guild(guild, "VOICE_STATE_UPDATE", gone.payload(guild), INTENT_GUILD_VOICE_STATES)

    async def close_voice_socket(self, user_id: int, code: int = 4015) -> None:
        """Fault: the voice server closes this user's voice websocket with ``code``.

        4015 keeps the session resumable; 4014 (disconnected) and 4022 (call terminated) also remove the user's
        voice state first, as Discord does when someone is kicked from a channel; other codes make clients
        reconnect from scratch.
        """
        if code in (4014, 4022):
            for guild in self.guilds.values():
                state = guild.voice_states.pop(user_id, None)
                if state is not None:
                    gone = VoiceState(user_id, None, state.session_id)
                    await self.dispatch_guild(guild, "VOICE_STATE_UPDATE", gone.payload(guild),
                                              INTENT_GUILD_VOICE_STATES, about_user=user_id)
        await self.voice.close_voice_socket(user_id, code)

    async def close_gateway_socket(self, bot: SimBot, code: int = 4000) -> None:
        """Fault: the gateway closes every websocket of this bot with ``code`` (4000 lets clients resume)."""
        await self.gateway.close_bot_sockets(bot.id, code)

    # --- messages ----------------------------------------------------------------------------------------------------

    def new_message_payload(self, channel: SimChannel, author: SimUser, body: dict[str, Any]) -> dict[str, Any]:
        message_id = new_snowflake()
        content = str(body.get("content") or "")
        mentions = [
            user.payload() for user in self.users.values() if f"<@{user.id}>" in content or f"<@!{user.id}>" in content
        ]
        return {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "author": author.payload(),
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
            "type": 0,
            "flags": int(body.get("flags") or 0),
            "components": list(body.get("components") or []),
            "nonce": body.get("nonce"),
        }

    async def store_message(self, message: dict[str, Any], *, dispatch: bool = True) -> None:
        message_id, channel_id = int(message["id"]), int(message["channel_id"])
        self.message_store[message_id] = message
        self._history.setdefault(channel_id, []).append(message_id)
        if dispatch:
            await self._dispatch_message_create(self.channels[channel_id], message)

    async def _dispatch_message_create(self, channel: SimChannel, message: dict[str, Any]) -> None:
        guild = channel.guild
        author_id = int(message["author"]["id"])
        event = {**message, "guild_id": str(guild.id)}
        if author_id in guild.memberships:
            event["member"] = guild.memberships[author_id].payload(with_user=False)
        for bot in guild.bots:
            for session in self.gateway.sessions_of(bot.id):
                if not session.wants(INTENT_GUILD_MESSAGES):
                    continue
                visible = (session.wants(INTENT_MESSAGE_CONTENT) or author_id == bot.id
                           or any(m["id"] == str(bot.id) for m in message["mentions"]))
                payload = event if visible else {**event, "content": "", "embeds": [], "attachments": [],
                                                 "components": []}
                await session.dispatch("MESSAGE_CREATE", payload)

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Every message in a channel, oldest first (members', bots' and interaction responses)."""
        return [self.message_store[i] for i in self._history.get(channel_id, []) if i in self.message_store]

    async def bot_creates_message(self, bot: SimBot, channel: SimChannel, body: dict[str, Any]) -> dict[str, Any]:
        message = self.new_message_payload(channel, bot, body)
        reference = body.get("message_reference") or {}
        referenced = self.message_store.get(int(reference.get("message_id") or 0))
        if referenced is not None:
            message.update({
                "type": 19,  # REPLY
                "message_reference": {"type": 0, "message_id": referenced["id"], "channel_id": referenced["channel_id"],
                                      "guild_id": str(channel.guild.id)},
                "referenced_message": referenced,
            })
        await self.store_message(message)
        self.messages.append(ClientMessage(
            action="create", message_id=int(message["id"]), channel_id=channel.id, author_id=bot.id,
            content=message["content"], embeds=message["embeds"], body=body,
            reply_to=int(referenced["id"]) if referenced is not None else None,
        ))
        log.info("bot message", bot=bot.name, channel=channel.name, content=message["content"])
        return message

    async def update_message(self, message: dict[str, Any], body: dict[str, Any], *, clear_flags: int = 0
                             ) -> dict[str, Any]:
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["flags"] = int(message.get("flags") or 0) & ~clear_flags
        message["edited_timestamp"] = snowflake_time_iso(new_snowflake())
        channel = self.channels[int(message["channel_id"])]
        await self.dispatch_guild(channel.guild, "MESSAGE_UPDATE", {**message, "guild_id": str(channel.guild.id)},
                                  INTENT_GUILD_MESSAGES)
        return message

    async def bot_edits_message(self, bot: SimBot, message: dict[str, Any], body: dict[str, Any]
                                ) -> dict[str, Any]:
        updated = await self.update_message(message, body)
        self.messages.append(ClientMessage(
            action="edit", message_id=int(updated["id"]), channel_id=int(updated["channel_id"]), author_id=bot.id,
            content=updated["content"], embeds=updated["embeds"], body=body,
        ))
        return updated

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        self.message_store.pop(message_id, None)
        channel = self.channels[channel_id]
        await self.dispatch_guild(channel.guild, "MESSAGE_DELETE", {
            "id": str(message_id), "channel_id": str(channel_id), "guild_id": str(channel.guild.id),
        }, INTENT_GUILD_MESSAGES)

    async def member_sends_message(self, member: SimMember, channel: SimChannel, content: str) -> dict[str, Any]:
        if channel.guild is not member.guild:
            raise ValueError(f"{channel.name} is not in {member.guild.name}")
        message = self.new_message_payload(channel, member.user, {"content": content})
        await self.store_message(message)
        return message

    async def set_nickname(self, guild: SimGuild, bot: SimBot, nick: str | None) -> dict[str, Any]:
        membership = guild.memberships[bot.id]
        membership.nick = nick
        payload = membership.payload()
        await self.dispatch_guild(guild, "GUILD_MEMBER_UPDATE", {**payload, "guild_id": str(guild.id)},
                                  INTENT_GUILD_MEMBERS, about_user=bot.id)
        return payload


def _owner_membership(owner: SimUser) -> Membership:
    return Membership(user=owner, joined_at=snowflake_time_iso(owner.id))
