"""The voice server: voice gateway v8 over TLS, one UDP socket for media, and the calls (rooms) per channel."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from pandora_simulator import voice_connection as op
from pandora_simulator.logs import log
from pandora_simulator.rtp import (
    SUPPORTED_MODES,
    TransportError,
    decrypt_packet,
    ip_discovery_response,
    is_rtcp,
    parse_ip_discovery_request,
    rtcp_bye,
)
from pandora_simulator.voice_connection import VoiceConnection
from pandora_simulator.voice_dave import DAVE_PROTOCOL_VERSION, DaveCalls
from pandora_simulator.voice_room import SimulatedParticipant, VoiceRoom

if TYPE_CHECKING:
    from pandora_simulator.members import SimMember
    from pandora_simulator.simulator import DiscordSimulator

HEARTBEAT_INTERVAL_MS = 13_750
HEARTBEAT_TIMEOUT_SECONDS = 2.5 * HEARTBEAT_INTERVAL_MS / 1000  # then close 4009 (session timeout)
RESUME_WINDOW_SECONDS = 30.0
IP_DISCOVERY_DELAY_SECONDS = 0.02


@dataclass(frozen=True)
class VoiceGrant:
    """What a VOICE_SERVER_UPDATE token allows: one user's session in one channel."""

    token: str
    guild_id: int
    user_id: int
    session_id: str
    channel_id: int


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: VoiceServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.on_datagram(data, addr)


class VoiceServer:
    def __init__(self, simulator: DiscordSimulator) -> None:
        self.sim = simulator
        self.grants: dict[str, VoiceGrant] = {}
        self.rooms: dict[int, VoiceRoom] = {}
        self.connections: dict[tuple[int, int], VoiceConnection] = {}  # (guild, user) -> connection
        self.by_ssrc: dict[int, VoiceConnection] = {}
        self._next_ssrc = 1000
        self._transport: asyncio.DatagramTransport | None = None
        self.udp_port = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.heartbeat_timeout = HEARTBEAT_TIMEOUT_SECONDS
        self.dave = DaveCalls(self)
        # (guild, user) -> the media session a client just left: it gets an RTCP BYE once the client's next
        # session is set up (this also wakes discord.py's socket reader, which may still wait on the old socket).
        self._retired: dict[tuple[int, int], VoiceConnection] = {}

    # --- lifecycle -----------------------------------------------------------------------------------------------

    async def start_udp(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, 0))
        self._transport = transport
        self.udp_port = transport.get_extra_info("sockname")[1]

    async def close(self) -> None:
        for connection in list(self.connections.values()):
            connection.closed = True
            await connection.close(1001)
        if self._transport is not None:
            self._transport.close()
        for task in list(self._tasks):
            task.cancel()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("voice task failed", error=repr(task.exception()))

    def allocate_ssrc(self) -> int:
        self._next_ssrc += 1
        return self._next_ssrc

    def room(self, channel_id: int) -> VoiceRoom:
        room = self.rooms.get(channel_id)
        if room is None:
            room = self.rooms[channel_id] = VoiceRoom(channel=self.sim.channels[channel_id], server=self)
        return room

    # --- grants from the main gateway ---------------------------------------------------------------------------

    def grant(self, guild_id: int, user_id: int, session_id: str, channel_id: int, *, reuse: bool) -> str:
        """A token for VOICE_SERVER_UPDATE; a refresh in the same channel keeps the token so RESUME works."""
        if reuse:
            for existing in self.grants.values():
                if (existing.guild_id, existing.user_id, existing.session_id, existing.channel_id) == (
                    guild_id, user_id, session_id, channel_id
                ):
                    return existing.token
        token = secrets.token_hex(8)
        self.grants[token] = VoiceGrant(token, guild_id, user_id, session_id, channel_id)
        return token

    async def disconnect_user(self, guild_id: int, user_id: int, code: int = op.DISCONNECTED) -> None:
        """The user left voice through the main gateway: drop them from the call and close their socket."""
        connection = self.connections.pop((guild_id, user_id), None)
        if connection is None:
            return
        await self._drop(connection)
        await connection.close(code)

    async def _drop(self, connection: VoiceConnection) -> None:
        if connection.ready_for_media:
            self._retired[(connection.guild_id, connection.user_id)] = connection
        connection.closed = True
        self.by_ssrc.pop(connection.ssrc, None)
        if self.connections.get((connection.guild_id, connection.user_id)) is connection:
            del self.connections[(connection.guild_id, connection.user_id)]
        if connection.room is not None:
            await connection.room.remove(connection.user_id)

    async def close_voice_socket(self, user_id: int, code: int) -> None:
        """Fault: close every voice websocket of this user with ``code`` (4015 leaves the session resumable)."""
        for connection in [c for c in self.connections.values() if c.user_id == user_id]:
            log.info("closing voice socket", user=user_id, code=code)
            if code != op.SERVER_CRASHED:
                await self._drop(connection)
            await connection.close(code)

    # --- simulated members --------------------------------------------------------------------------------------

    async def add_simulated(self, member: SimMember, channel_id: int) -> SimulatedParticipant:
        participant = SimulatedParticipant(
            member=member, ssrc=self.allocate_ssrc(),
            sequence=member.rng.randrange(0, 1 << 16), timestamp=member.rng.randrange(0, 1 << 32),
        )
        await self.room(channel_id).add_simulated(participant)
        return participant

    async def remove_simulated(self, member: SimMember, channel_id: int) -> None:
        await self.room(channel_id).remove(member.id)
        member.dave = None

    # --- DAVE -----------------------------------------------------------------------------------------------------

    def dave_version_for(self, room: VoiceRoom, connection: VoiceConnection) -> int:
        """DAVE v1 for clients that offer it (mixed calls that downgrade to transport-only are not simulated)."""
        return DAVE_PROTOCOL_VERSION if self.sim.dave_enabled and connection.max_dave_protocol_version >= 1 else 0

    async def dave_member_joined(self, room: VoiceRoom, user_id: int) -> None:
        if self.sim.dave_enabled:
            await self.dave.joined(room, user_id)

    async def dave_member_left(self, room: VoiceRoom, user_id: int) -> None:
        if self.sim.dave_enabled:
            await self.dave.left(room, user_id)

    async def dave_client_message(self, connection: VoiceConnection, opcode: int, payload: Any) -> None:
        if self.sim.dave_enabled and connection.room is not None and connection.dave_protocol_version >= 1:
            await self.dave.client_message(connection.room, connection.user_id, opcode, payload)

    async def force_dave_epoch_change(self, channel_id: int, *, recreate: bool = False) -> None:
        await self.dave.force_epoch_change(self.room(channel_id), recreate=recreate)

    async def wait_dave_settled(self, channel_id: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.dave.settled(channel_id):
            if time.monotonic() > deadline:
                group = self.dave.group(channel_id)
                raise TimeoutError(f"DAVE did not settle: members={group and group.members} "
                                   f"connected={group and group.connected} rejected={group and group.rejected}")
            await asyncio.sleep(0.02)

    async def wait_member_can_send(self, member: SimMember, timeout: float = 10.0) -> None:
        """A simulated member speaks once its DAVE session has keys (or at once in a transport-only call)."""
        if member.dave is None or member.channel is None:
            return
        group = self.dave.group(member.channel.id)
        if group is None or len(group.connected) < 2:
            return  # alone in the call: nobody to encrypt for, frames go out as they are
        deadline = time.monotonic() + timeout
        while not member.dave.ready:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{member.name}'s DAVE session never became ready")
            await asyncio.sleep(0.02)

    # --- UDP -------------------------------------------------------------------------------------------------------

    def send_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        discovery_ssrc = parse_ip_discovery_request(data)
        if discovery_ssrc is not None:
            connection = self.by_ssrc.get(discovery_ssrc)
            if connection is not None:
                connection.discovered_addr = addr
                # Answer after a network-like delay: discord.py registers its reply listener only after sending
                # the request, so a reader thread already running for another listener could eat an instant reply.
                reply = ip_discovery_response(discovery_ssrc, addr[0], addr[1])
                asyncio.get_running_loop().call_later(IP_DISCOVERY_DELAY_SECONDS, self.send_datagram, reply, addr)
                self._say_goodbye(connection)
            return
        if is_rtcp(data) or len(data) < 12:
            return  # clients' RTCP reports carry nothing the simulator uses
        ssrc = int.from_bytes(data[8:12], "big")
        connection = self.by_ssrc.get(ssrc)
        if connection is None or connection.key is None or connection.mode is None or connection.room is None:
            return
        try:
            packet = decrypt_packet(connection.mode, connection.key, data)
        except TransportError as error:
            log.warning("undecryptable voice packet", user=connection.user_id, error=str(error))
            return
        connection.received_packets += 1
        if connection.udp_addr is None:
            connection.udp_addr = addr
        connection.room.forward_from_client(connection, packet)

    def _say_goodbye(self, successor: VoiceConnection) -> None:
        retired = self._retired.pop((successor.guild_id, successor.user_id), None)
        if retired is None or retired.udp_addr is None or retired.udp_addr == successor.discovered_addr:
            return
        assert retired.mode is not None and retired.key is not None
        self.send_datagram(rtcp_bye(retired.mode, retired.key, retired.ssrc, retired.next_counter()),
                           retired.udp_addr)

    # --- voice websocket -----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": op.HELLO, "d": {"v": 8, "heartbeat_interval": HEARTBEAT_INTERVAL_MS}}))
        connection: VoiceConnection | None = None
        last_heartbeat = time.monotonic()
        try:
            while True:
                try:
                    remaining = last_heartbeat + self.heartbeat_timeout - time.monotonic()
                    message = await ws.receive(timeout=max(remaining, 0.001))
                except TimeoutError:
                    log.info("voice heartbeat missed", user=connection.user_id if connection else None)
                    if connection is not None:
                        connection.server_close_code = op.SESSION_TIMEOUT
                    await ws.close(code=op.SESSION_TIMEOUT)
                    break
                if message.type == WSMsgType.BINARY:
                    if connection is not None and len(message.data) >= 1:
                        connection.client_ops.append(message.data[0])
                        await self.dave_client_message(connection, message.data[0], message.data[1:])
                    continue
                if message.type != WSMsgType.TEXT:
                    break
                try:
                    payload = json.loads(message.data)
                    opcode, data = payload["op"], payload.get("d")
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=op.DECODE_ERROR)
                    break
                if connection is not None and opcode not in (op.IDENTIFY, op.RESUME):
                    connection.client_ops.append(opcode)
                if opcode == op.HEARTBEAT:
                    last_heartbeat = time.monotonic()
                    if connection is not None and isinstance(data, dict):
                        connection.seq_ack = int(data.get("seq_ack", connection.seq_ack))
                    nonce = data.get("t") if isinstance(data, dict) else data
                    await ws.send_str(json.dumps({"op": op.HEARTBEAT_ACK, "d": {"t": nonce}}))
                elif opcode == op.IDENTIFY:
                    if connection is not None:
                        await ws.close(code=op.ALREADY_AUTHENTICATED)
                        break
                    connection = await self._identify(ws, data or {})
                    if connection is None:
                        break
                    connection.client_ops.append(opcode)
                elif opcode == op.RESUME:
                    connection = await self._resume(ws, data or {})
                    if connection is None:
                        break
                    connection.client_ops.append(opcode)
                elif connection is None:
                    await ws.close(code=op.NOT_AUTHENTICATED)
                    break
                elif opcode == op.SELECT_PROTOCOL:
                    if not await self._select_protocol(connection, data or {}):
                        break
                elif opcode == op.SPEAKING:
                    if connection.room is not None:
                        await connection.room.speaking_changed(connection, int((data or {}).get("speaking", 0)))
                elif opcode in (op.DAVE_TRANSITION_READY, op.MLS_INVALID_COMMIT_WELCOME):
                    await self.dave_client_message(connection, opcode, data or {})
                # Other client opcodes (12 client connect, video, codecs) change nothing here.
        finally:
            if connection is not None and connection.ws is ws:
                code = connection.server_close_code if connection.server_close_code is not None else ws.close_code
                connection.server_close_code = None
                await self._socket_gone(connection, code)
        return ws

    async def _socket_gone(self, connection: VoiceConnection, code: int | None) -> None:
        connection.ws = None
        if connection.closed:
            return
        if code in (op.SERVER_CRASHED, 1006, None):
            # Resumable: keep the seat (and UDP) for a while, as Discord does.
            connection.resumable_until = time.monotonic() + RESUME_WINDOW_SECONDS
            loop = asyncio.get_running_loop()
            loop.call_later(RESUME_WINDOW_SECONDS, lambda: self.spawn(self._expire(connection)))
            return
        await self._drop(connection)

    async def _expire(self, connection: VoiceConnection) -> None:
        if connection.ws is None and not connection.closed and time.monotonic() >= connection.resumable_until:
            await self._drop(connection)

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> VoiceConnection | None:
        grant = self.grants.get(str(data.get("token")))
        if (
            grant is None
            or str(grant.guild_id) != str(data.get("server_id"))
            or str(grant.user_id) != str(data.get("user_id"))
            or grant.session_id != data.get("session_id")
        ):
            await ws.close(code=op.AUTHENTICATION_FAILED)
            return None
        previous = self.connections.get((grant.guild_id, grant.user_id))
        if previous is not None:
            await self._drop(previous)
            await previous.close(op.DISCONNECTED)
        connection = VoiceConnection(
            guild_id=grant.guild_id, user_id=grant.user_id, session_id=grant.session_id, token=grant.token,
            channel_id=grant.channel_id, ssrc=self.allocate_ssrc(),
            max_dave_protocol_version=int(data.get("max_dave_protocol_version") or 0), ws=ws,
        )
        self.connections[(grant.guild_id, grant.user_id)] = connection
        self.by_ssrc[connection.ssrc] = connection
        modes = list(SUPPORTED_MODES)
        await connection.send(op.READY, {
            # The address the UDP server listens on: a client outside this host (a pod) must reach it there.
            "ssrc": connection.ssrc, "ip": self.sim.host, "port": self.udp_port, "modes": modes,
            "heartbeat_interval": 1, "experiments": [],
        })
        log.info("voice identify", user=grant.user_id, channel=grant.channel_id, ssrc=connection.ssrc)
        return connection

    async def _select_protocol(self, connection: VoiceConnection, data: dict[str, Any]) -> bool:
        details = data.get("data") or {}
        mode = details.get("mode")
        if data.get("protocol") != "udp":
            await connection.close(op.UNKNOWN_PROTOCOL)
            return False
        if mode not in SUPPORTED_MODES:
            await connection.close(op.UNKNOWN_ENCRYPTION_MODE)
            return False
        connection.mode = mode
        connection.key = secrets.token_bytes(32)
        connection.udp_addr = (str(details.get("address")), int(details.get("port") or 0))
        room = self.room(connection.channel_id)
        connection.dave_protocol_version = self.dave_version_for(room, connection)
        await connection.send(op.SESSION_DESCRIPTION, connection.session_description())
        await room.add_client(connection)
        return True

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> VoiceConnection | None:
        connection = next(
            (c for c in self.connections.values()
             if c.token == data.get("token") and c.session_id == data.get("session_id")
             and str(c.guild_id) == str(data.get("server_id"))),
            None,
        )
        if connection is None or connection.closed:
            await ws.close(code=op.SESSION_INVALID)
            return None
        old = connection.ws
        connection.ws = ws
        if old is not None and not old.closed:
            await old.close(code=op.SESSION_INVALID)
        seq_ack = int(data.get("seq_ack", -1))
        await connection.send_unnumbered(op.RESUMED, None)
        replayed = await connection.replay_after(seq_ack)
        log.info("voice resume", user=connection.user_id, seq_ack=seq_ack, replayed=replayed)
        if connection.key is not None:
            # discord.py 2.7.1 waits for a secret key on every new voice socket, resumed or not; repeat it.
            await connection.send(op.SESSION_DESCRIPTION, connection.session_description())
        return connection
