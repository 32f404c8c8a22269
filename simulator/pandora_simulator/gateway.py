"""The main gateway (v10 JSON over a websocket, optionally zlib-stream compressed).

One :class:`GatewaySession` per IDENTIFY; several sessions (of one bot or of several bots) may be open at once.
Dispatches are numbered and buffered so a client can RESUME after a dropped connection.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from pandora_simulator.logs import log

if TYPE_CHECKING:
    from pandora_simulator.model import SimBot
    from pandora_simulator.simulator import DiscordSimulator

HEARTBEAT_INTERVAL_MS = 41_250
RESUME_WINDOW_SECONDS = 60.0
BUFFER_LIMIT = 1000

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_VOICE_STATES = 1 << 7
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15

# Gateway close codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway).
UNKNOWN_OPCODE = 4001
DECODE_ERROR = 4002
NOT_AUTHENTICATED = 4003
AUTHENTICATION_FAILED = 4004
ALREADY_AUTHENTICATED = 4005


@dataclass(eq=False)
class GatewaySession:
    """A bot's gateway session; survives its websocket for :data:`RESUME_WINDOW_SECONDS`."""

    id: str
    bot: SimBot
    intents: int
    shard: list[int] | None
    ws: web.WebSocketResponse | None = None
    compressor: Any = None
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None
    closed: bool = False
    server_closed: bool = False  # the last socket was closed by the simulator (a fault), so it stays resumable

    def wants(self, intent: int | None) -> bool:
        return intent is None or bool(self.intents & intent)

    async def send(self, payload: dict[str, Any]) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        text = json.dumps(payload, separators=(",", ":"))
        try:
            if self.compressor is not None:
                data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                await ws.send_bytes(data)
            else:
                await ws.send_str(text)
        except (ConnectionResetError, RuntimeError):
            log.debug("gateway send failed (socket closing)", session=self.id)

    async def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.buffer.append(payload)
        del self.buffer[:-BUFFER_LIMIT]
        await self.send(payload)


class GatewayServer:
    """Serves ``/gateway``; the simulator calls :meth:`dispatch_to_bot` to push events."""

    def __init__(self, simulator: DiscordSimulator) -> None:
        self.sim = simulator
        self.sessions: dict[str, GatewaySession] = {}

    def sessions_of(self, bot_id: int) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.bot.id == bot_id and not s.closed]

    async def dispatch_to_bot(self, bot_id: int, event: str, data: Any, intent: int | None = None) -> None:
        for session in self.sessions_of(bot_id):
            if session.wants(intent):
                await session.dispatch(event, data)

    async def close_bot_sockets(self, bot_id: int, code: int) -> None:
        for session in self.sessions_of(bot_id):
            if session.ws is not None and not session.ws.closed:
                session.server_closed = True
                await session.ws.close(code=code)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compressor = zlib.compressobj() if request.query.get("compress") == "zlib-stream" else None
        session: GatewaySession | None = None
        hello = {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["pandora-simulator"]}}
        await self._send_raw(ws, compressor, hello)
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    payload = json.loads(message.data)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=DECODE_ERROR, message=b"Error while decoding payload.")
                    break
                data = payload.get("d")
                if op == 1:
                    await self._send_raw(ws, compressor, {"op": 11, "d": None})
                elif op == 2:
                    if session is not None:
                        await ws.close(code=ALREADY_AUTHENTICATED, message=b"Already authenticated.")
                        break
                    session = await self._identify(ws, compressor, data)
                    if session is None:
                        break
                elif op == 6:
                    session = await self._resume(ws, compressor, data)
                elif session is None:
                    await ws.close(code=NOT_AUTHENTICATED, message=b"Not authenticated.")
                    break
                elif op == 4:
                    await self.sim.handle_voice_state_request(session, data)
                elif op == 8:
                    await self._request_members(session, data)
                elif op == 3:
                    pass  # presence updates change nothing the simulator models
                else:
                    await ws.close(code=UNKNOWN_OPCODE, message=b"Unknown opcode.")
                    break
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
                # A client that closes with 1000/1001 ends its session; anything else may RESUME for a while.
                client_ended = ws.close_code in (1000, 1001) and not session.server_closed
                self._schedule_expiry(session, 0.0 if client_ended else RESUME_WINDOW_SECONDS)
        return ws

    @staticmethod
    async def _send_raw(ws: web.WebSocketResponse, compressor: Any, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        if compressor is not None:
            await ws.send_bytes(compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH))
        else:
            await ws.send_str(text)

    async def _identify(self, ws: web.WebSocketResponse, compressor: Any, data: Any) -> GatewaySession | None:
        token = str((data or {}).get("token", "")).removeprefix("Bot ").strip()
        bot = self.sim.bots_by_token.get(token)
        if bot is None:
            await ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        session = GatewaySession(
            id=secrets.token_hex(16), bot=bot, intents=int(data.get("intents", 0)), shard=data.get("shard"),
            ws=ws, compressor=compressor,
        )
        self.sessions[session.id] = session
        guilds = self.sim.guilds_of(bot)
        ready: dict[str, Any] = {
            "v": 10,
            "user": bot.client_user_payload(),
            "user_settings": {},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.sim.gateway_url,
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
        log.info("gateway identify", bot=bot.name, session=session.id, intents=session.intents)
        await session.dispatch("READY", ready)
        for guild in guilds:
            if session.wants(INTENT_GUILDS):
                await session.dispatch("GUILD_CREATE", guild.create_payload(bot))
        return session

    async def _resume(self, ws: web.WebSocketResponse, compressor: Any, data: Any) -> GatewaySession | None:
        data = data or {}
        session = self.sessions.get(str(data.get("session_id")))
        token = str(data.get("token", "")).removeprefix("Bot ").strip()
        if session is None or session.closed or session.bot.token != token:
            await self._send_raw(ws, compressor, {"op": 9, "d": False})
            return None
        if session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None
        if session.ws is not None and not session.ws.closed:
            await session.ws.close(code=4000)
        session.ws, session.compressor, session.server_closed = ws, compressor, False
        last = int(data.get("seq") or 0)
        for payload in list(session.buffer):
            if payload["s"] > last:
                await session.send(payload)
        log.info("gateway resume", bot=session.bot.name, session=session.id, replayed_after=last)
        await session.dispatch("RESUMED", {"_trace": ["pandora-simulator"]})
        return session

    def _schedule_expiry(self, session: GatewaySession, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def expire() -> None:
            session.closed = True
            self.sessions.pop(session.id, None)
            self.sim.spawn(self.sim.forget_gateway_session(session))

        session.expiry = loop.call_later(delay, expire)

    async def _request_members(self, session: GatewaySession, data: Any) -> None:
        data = data or {}
        guild = self.sim.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        wanted = {int(x) for x in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            membership.payload()
            for user_id, membership in guild.memberships.items()
            if (not wanted or user_id in wanted) and membership.user.name.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1, "not_found": [],
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            if session.expiry is not None:
                session.expiry.cancel()
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)
        self.sessions.clear()
