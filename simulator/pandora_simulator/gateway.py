"""The main gateway (v10 JSON over a websocket, optionally zlib-stream compressed): HELLO, IDENTIFY, RESUME, ops.

One :class:`Socket` per websocket; each client opcode has its own handler. What a bot's op 4 means for voice is
not decided here: the gateway hands it to its ``on_voice_state_request`` callback, and tells ``on_session_end``
when a session can no longer be resumed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from pandora_simulator import shapes
from pandora_simulator.gateway_sessions import GatewaySession, GatewaySessions, send_frame
from pandora_simulator.logs import log
from pandora_simulator.model import SimBot, new_bot_token
from pandora_simulator.opcodes import CLIENT_ENDED_CODES, PRIVILEGED_INTENTS, GatewayClose, GatewayOp, Intent
from pandora_simulator.records import InvalidSession, TokenReset
from pandora_simulator.session_limits import Admission, SessionStartLimits
from pandora_simulator.world import World

HEARTBEAT_INTERVAL_MS = 41_250
RESUME_WINDOW_SECONDS = 60.0
TRACE = ["pandora-simulator"]

VoiceStateRequestHandler = Callable[[GatewaySession, dict[str, Any]], Awaitable[None]]
SessionEndHandler = Callable[[GatewaySession], Coroutine[Any, Any, None]]


@dataclass(eq=False)
class Socket:
    """One gateway websocket and the session it carries (None until IDENTIFY or RESUME)."""

    ws: web.WebSocketResponse
    compressor: Any
    session: GatewaySession | None = None

    async def send(self, payload: dict[str, Any]) -> None:
        await send_frame(self.ws, self.compressor, payload)

    async def close(self, code: GatewayClose, reason: str) -> bool:
        """Close with ``code``; returns False so a handler can ``return await socket.close(...)``."""
        await self.ws.close(code=code, message=reason.encode())
        return False


class GatewayServer:
    """Serves ``/gateway``. ``resume_url`` is read when a session starts (the port is known only once serving)."""

    def __init__(self, world: World, sessions: GatewaySessions, limits: SessionStartLimits, *,
                 resume_url: Callable[[], str],
                 on_voice_state_request: VoiceStateRequestHandler, on_session_end: SessionEndHandler,
                 spawn: Callable[[Coroutine[Any, Any, Any]], None]) -> None:
        self.world = world
        self.sessions = sessions
        self.limits = limits
        self.resume_url = resume_url
        self.on_voice_state_request = on_voice_state_request
        self.on_session_end = on_session_end
        self.spawn = spawn
        self._handlers: dict[int, Callable[[Socket, Any], Awaitable[bool]]] = {
            GatewayOp.HEARTBEAT: self._heartbeat,
            GatewayOp.IDENTIFY: self._identify,
            GatewayOp.RESUME: self._resume,
            GatewayOp.VOICE_STATE_UPDATE: self._voice_state_update,
            GatewayOp.REQUEST_GUILD_MEMBERS: self._request_members,
            GatewayOp.PRESENCE_UPDATE: self._presence_update,
        }
        self._before_session = {GatewayOp.HEARTBEAT, GatewayOp.IDENTIFY, GatewayOp.RESUME}

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        socket = Socket(ws, zlib.compressobj() if request.query.get("compress") == "zlib-stream" else None)
        await socket.send({"op": GatewayOp.HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": TRACE}})
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or not await self._receive(socket, message):
                    break
        finally:
            self._socket_closed(socket)
        return ws

    async def _receive(self, socket: Socket, message: Any) -> bool:
        """Handle one client payload; False ends the connection."""
        try:
            payload = json.loads(message.data)
            op = payload["op"]
        except (ValueError, KeyError, TypeError):
            return await socket.close(GatewayClose.DECODE_ERROR, "Error while decoding payload.")
        if socket.session is None and op not in self._before_session:
            return await socket.close(GatewayClose.NOT_AUTHENTICATED, "Not authenticated.")
        handler = self._handlers.get(op)
        if handler is None:
            return await socket.close(GatewayClose.UNKNOWN_OPCODE, "Unknown opcode.")
        return await handler(socket, payload.get("d"))

    def _socket_closed(self, socket: Socket) -> None:
        session = socket.session
        if session is None or session.closed or session.ws is not socket.ws:
            return
        session.ws = None
        # A client that closes with 1000/1001 ends its session; anything else may RESUME for a while.
        client_ended = socket.ws.close_code in CLIENT_ENDED_CODES and not session.server_closed
        self._schedule_expiry(session, 0.0 if client_ended else RESUME_WINDOW_SECONDS)

    def _schedule_expiry(self, session: GatewaySession, delay: float) -> None:
        def expire() -> None:
            self.sessions.end(session)
            self.spawn(self.on_session_end(session))

        session.expiry = asyncio.get_running_loop().call_later(delay, expire)

    # --- client opcodes ----------------------------------------------------------------------------------------

    async def _heartbeat(self, socket: Socket, data: Any) -> bool:
        await socket.send({"op": GatewayOp.HEARTBEAT_ACK, "d": None})
        return True

    async def _presence_update(self, socket: Socket, data: Any) -> bool:
        return True  # presences change nothing the simulator models

    async def _voice_state_update(self, socket: Socket, data: Any) -> bool:
        assert socket.session is not None
        await self.on_voice_state_request(socket.session, data or {})
        return True

    async def _identify(self, socket: Socket, data: Any) -> bool:
        if socket.session is not None:
            return await socket.close(GatewayClose.ALREADY_AUTHENTICATED, "Already authenticated.")
        data = data or {}
        bot = self.world.bot_by_token(str(data.get("token", "")))
        if bot is None:
            return await socket.close(GatewayClose.AUTHENTICATION_FAILED, "Authentication failed.")
        shard = data.get("shard")
        admission = self.limits.of(bot.id).admit(int(shard[0]) if shard else 0)
        if admission is Admission.TOO_SOON:
            log.info("gateway identify too soon: invalid session", bot=bot.name)
            return await self._invalid_session(socket, bot, "identify_too_soon")
        if admission is Admission.EXHAUSTED:
            await self._reset_token(bot)
            return await socket.close(GatewayClose.AUTHENTICATION_FAILED, "Authentication failed.")
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~bot.privileged_intents:
            # After admission: that this IDENTIFY spends one of the day's is an assumption (UNCONFIRMED).
            log.info("gateway identify with a privileged intent not enabled", bot=bot.name, intents=intents)
            return await socket.close(GatewayClose.DISALLOWED_INTENTS, "Disallowed intent(s).")
        session = GatewaySession(id=secrets.token_hex(16), bot=bot, intents=intents,
                                 shard=data.get("shard"), ws=socket.ws, compressor=socket.compressor)
        self.sessions.add(session)
        socket.session = session
        log.info("gateway identify", bot=bot.name, session=session.id, intents=session.intents)
        await session.dispatch("READY", self._ready(session))
        if session.wants(Intent.GUILDS):
            for guild in self.world.guilds_of(bot):
                await session.dispatch("GUILD_CREATE", shapes.guild_create(guild, bot))
        return True

    def _ready(self, session: GatewaySession) -> dict[str, Any]:
        bot = session.bot
        ready: dict[str, Any] = {
            "v": 10,
            "user": shapes.client_user(bot),
            "user_settings": {},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in self.world.guilds_of(bot)],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url(),
            "application": {"id": str(bot.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "auth_session_id_hash": "",
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        return ready

    async def _resume(self, socket: Socket, data: Any) -> bool:
        data = data or {}
        session = self.sessions.get(str(data.get("session_id")))
        bot = self.world.bot_by_token(str(data.get("token", "")))
        if session is None or session.closed or session.bot is not bot:
            socket.session = None
            return await self._invalid_session(socket, bot, "resume_refused")
        if session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None
        if session.ws is not None and not session.ws.closed:
            await session.ws.close(code=GatewayClose.UNKNOWN_ERROR)
        session.ws, session.compressor, session.server_closed = socket.ws, socket.compressor, False
        socket.session = session
        last = int(data.get("seq") or 0)
        for payload in list(session.buffer):
            if payload["s"] > last:
                await session.send(payload)
        log.info("gateway resume", bot=session.bot.name, session=session.id, replayed_after=last)
        await session.dispatch("RESUMED", {"_trace": TRACE})
        return True

    async def _invalid_session(self, socket: Socket, bot: SimBot | None, reason: str) -> bool:
        """Op 9 with ``d`` false (start a new session); the client closes the socket itself."""
        self.world.invalid_sessions.append(InvalidSession(bot.id if bot else 0, reason))
        await socket.send({"op": GatewayOp.INVALID_SESSION, "d": False})
        return True

    async def _reset_token(self, bot: SimBot) -> None:
        """The IDENTIFY budget is spent: every session of the bot ends and its token is replaced."""
        ended = self.sessions.of(bot.id)
        self.world.replace_token(bot, new_bot_token(bot.id))
        self.world.token_resets.append(TokenReset(bot.id, len(ended)))
        log.warning("gateway identify budget exhausted: sessions ended, token reset", bot=bot.name,
                    sessions=len(ended))
        for session in ended:
            self.sessions.end(session)
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=GatewayClose.AUTHENTICATION_FAILED, message=b"Authentication failed.")
            await self.on_session_end(session)

    async def _request_members(self, socket: Socket, data: Any) -> bool:
        assert socket.session is not None
        data = data or {}
        guild = self.world.guild(int(data.get("guild_id", 0)))
        if guild is None:
            return True
        wanted = {int(x) for x in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            shapes.member(membership)
            for user_id, membership in guild.memberships.items()
            if (not wanted or user_id in wanted) and membership.user.name.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        chunk: dict[str, Any] = {"guild_id": str(guild.id), "members": members[:limit] if limit else members,
                                 "chunk_index": 0, "chunk_count": 1, "not_found": []}
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        await socket.session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
        return True
