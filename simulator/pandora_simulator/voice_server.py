"""The voice server's calls: grants from the main gateway, real clients' connections, rooms per channel, UDP media.

The websocket protocol is in :mod:`pandora_simulator.voice_gateway`; it asks this module to authorize, seat and
drop connections. DAVE for each call is in :mod:`pandora_simulator.voice_dave`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pandora_simulator.logs import log
from pandora_simulator.model import SimChannel, SimMember
from pandora_simulator.opcodes import VoiceClose, WebSocketClose
from pandora_simulator.records import ReceivedAudio
from pandora_simulator.rtp import (
    TransportError,
    decrypt_packet,
    ip_discovery_response,
    is_rtcp,
    parse_ip_discovery_request,
    rtcp_bye,
)
from pandora_simulator.tasks import BackgroundTasks
from pandora_simulator.voice_connection import VoiceConnection
from pandora_simulator.voice_dave import DAVE_PROTOCOL_VERSION, DaveCalls
from pandora_simulator.voice_room import RoomServices, SimulatedParticipant, VoiceRoom

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
    """``channel_of`` finds a voice channel by id; ``audio_received`` gets every packet a real client sent."""

    def __init__(self, channel_of: Callable[[int], SimChannel | None], *, dave: bool,
                 audio_received: Callable[[ReceivedAudio], None]) -> None:
        self.channel_of = channel_of
        self.dave_enabled = dave
        self.grants: dict[str, VoiceGrant] = {}
        self.rooms: dict[int, VoiceRoom] = {}
        self.connections: dict[tuple[int, int], VoiceConnection] = {}  # (guild, user) -> connection
        self.by_ssrc: dict[int, VoiceConnection] = {}
        self._next_ssrc = 1000
        self._transport: asyncio.DatagramTransport | None = None
        self.udp_port = 0
        self.udp_host = "127.0.0.1"
        self.tasks = BackgroundTasks()
        self.dave = DaveCalls(self.tasks.spawn)
        self._room_services = RoomServices(
            send_datagram=self.send_datagram, spawn=self.tasks.spawn, participant_joined=self._dave_joined,
            participant_left=self._dave_left, audio_received=audio_received,
        )
        # (guild, user) -> the media session a client just left: it gets an RTCP BYE once the client's next
        # session is set up (this also wakes discord.py's socket reader, which may still wait on the old socket).
        self._retired: dict[tuple[int, int], VoiceConnection] = {}

    # --- lifecycle -----------------------------------------------------------------------------------------------

    async def start_udp(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, 0))
        self._transport = transport
        self.udp_host, self.udp_port = transport.get_extra_info("sockname")[:2]

    async def close(self) -> None:
        for connection in list(self.connections.values()):
            connection.closed = True
            await connection.close(WebSocketClose.GOING_AWAY)
        if self._transport is not None:
            self._transport.close()
        self.tasks.cancel_all()

    def allocate_ssrc(self) -> int:
        self._next_ssrc += 1
        return self._next_ssrc

    def room(self, channel_id: int) -> VoiceRoom:
        room = self.rooms.get(channel_id)
        if room is None:
            channel = self.channel_of(channel_id)
            if channel is None:
                raise KeyError(f"no channel {channel_id}")
            room = self.rooms[channel_id] = VoiceRoom(channel=channel, services=self._room_services)
        return room

    def room_of(self, connection: VoiceConnection) -> VoiceRoom | None:
        """The call a connection is seated in (None before SELECT_PROTOCOL or after it left)."""
        room = self.rooms.get(connection.channel_id)
        return room if room is not None and room.clients.get(connection.user_id) is connection else None

    # --- grants and connections -----------------------------------------------------------------------------

    def grant(self, guild_id: int, user_id: int, session_id: str, channel_id: int, *, reuse: bool) -> str:
        """A token for VOICE_SERVER_UPDATE; a refresh in the same channel keeps the token of the voice connection
        it refreshes, so RESUME works. That is the connection's own token, or else the newest grant for the seat:
        after a fresh reconnect (op 4 leave and join, a new token, a new IDENTIFY) the older grants of the same
        seat are still stored, and handing out the first of them made the next RESUME fail 4006."""
        if reuse:
            seat = (guild_id, user_id, session_id, channel_id)
            connection = self.connections.get((guild_id, user_id))
            if connection is not None and not connection.closed and seat == (
                connection.guild_id, connection.user_id, connection.session_id, connection.channel_id
            ):
                return connection.token
            for existing in reversed(self.grants.values()):
                if (existing.guild_id, existing.user_id, existing.session_id, existing.channel_id) == seat:
                    return existing.token
        token = secrets.token_hex(8)
        self.grants[token] = VoiceGrant(token, guild_id, user_id, session_id, channel_id)
        return token

    async def open_connection(self, grant: VoiceGrant, max_dave_protocol_version: int, ws: Any) -> VoiceConnection:
        """A voice IDENTIFY that matched ``grant``: replaces the user's previous connection in that guild."""
        previous = self.connections.get((grant.guild_id, grant.user_id))
        if previous is not None:
            await self.drop(previous)
            await previous.close(VoiceClose.DISCONNECTED)
        connection = VoiceConnection(
            guild_id=grant.guild_id, user_id=grant.user_id, session_id=grant.session_id, token=grant.token,
            channel_id=grant.channel_id, ssrc=self.allocate_ssrc(),
            max_dave_protocol_version=max_dave_protocol_version, ws=ws,
        )
        self.connections[(grant.guild_id, grant.user_id)] = connection
        self.by_ssrc[connection.ssrc] = connection
        return connection

    def resumable(self, token: Any, session_id: Any, guild_id: Any) -> VoiceConnection | None:
        connection = next(
            (c for c in self.connections.values()
             if c.token == token and c.session_id == session_id and str(c.guild_id) == str(guild_id)),
            None,
        )
        return None if connection is None or connection.closed else connection

    async def seat(self, connection: VoiceConnection) -> None:
        """SELECT_PROTOCOL done: the connection joins its channel's call."""
        room = self.room(connection.channel_id)
        await room.add_client(connection)

    def dave_version_for(self, connection: VoiceConnection) -> int:
        """DAVE v1 for clients that offer it (mixed calls that downgrade to transport-only are not simulated)."""
        return DAVE_PROTOCOL_VERSION if self.dave_enabled and connection.max_dave_protocol_version >= 1 else 0

    async def disconnect_user(self, guild_id: int, user_id: int, code: int = VoiceClose.DISCONNECTED) -> None:
        """The user left voice through the main gateway: drop them from the call and close their socket."""
        connection = self.connections.pop((guild_id, user_id), None)
        if connection is None:
            return
        await self.drop(connection)
        await connection.close(code)

    async def drop(self, connection: VoiceConnection) -> None:
        if connection.ready_for_media:
            self._retired[(connection.guild_id, connection.user_id)] = connection
        connection.closed = True
        self.by_ssrc.pop(connection.ssrc, None)
        if self.connections.get((connection.guild_id, connection.user_id)) is connection:
            del self.connections[(connection.guild_id, connection.user_id)]
        room = self.room_of(connection)
        if room is not None:
            await room.remove(connection.user_id)

    async def socket_gone(self, connection: VoiceConnection, code: int | None) -> None:
        """The connection's websocket closed: keep the seat for a resumable code, else drop it."""
        connection.ws = None
        if connection.closed:
            return
        if code in (VoiceClose.SERVER_CRASHED, WebSocketClose.ABNORMAL, None):
            # Resumable: keep the seat (and UDP) for a while, as Discord does.
            connection.resumable_until = time.monotonic() + RESUME_WINDOW_SECONDS
            loop = asyncio.get_running_loop()
            loop.call_later(RESUME_WINDOW_SECONDS, lambda: self.tasks.spawn(self._expire(connection)))
            return
        await self.drop(connection)

    async def _expire(self, connection: VoiceConnection) -> None:
        if connection.ws is None and not connection.closed and time.monotonic() >= connection.resumable_until:
            await self.drop(connection)

    async def close_voice_socket(self, user_id: int, code: int, *, resumable: bool = True) -> None:
        """Fault: close every voice websocket of this user with ``code`` (4015 leaves the session resumable,
        unless ``resumable`` is False: then the next RESUME is refused with 4006)."""
        for connection in [c for c in self.connections.values() if c.user_id == user_id]:
            log.info("closing voice socket", user=user_id, code=code, resumable=resumable)
            if code != VoiceClose.SERVER_CRASHED or not resumable:
                await self.drop(connection)
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

    def seat_of(self, member: SimMember) -> tuple[VoiceRoom, SimulatedParticipant] | None:
        """A simulated member's call and seat (None when not in voice)."""
        if member.channel is None or member.channel.id not in self.rooms:
            return None
        room = self.rooms[member.channel.id]
        participant = room.simulated.get(member.id)
        return None if participant is None else (room, participant)

    # --- DAVE (also the scenario API's CallControls) --------------------------------------------------------------

    async def _dave_joined(self, room: VoiceRoom, user_id: int) -> None:
        if self.dave_enabled:
            await self.dave.joined(room, user_id)

    async def _dave_left(self, room: VoiceRoom, user_id: int) -> None:
        if self.dave_enabled:
            await self.dave.left(room, user_id)

    async def dave_client_message(self, connection: VoiceConnection, opcode: int, payload: Any) -> None:
        room = self.room_of(connection)
        if self.dave_enabled and room is not None and connection.dave_protocol_version >= 1:
            await self.dave.client_message(room, connection.user_id, opcode, payload)

    async def force_dave_epoch_change(self, channel_id: int, *, recreate: bool = False) -> None:
        await self.dave.force_epoch_change(self.room(channel_id), recreate=recreate)

    async def send_forged_dave_proposal(self, channel_id: int, user_id: int) -> None:
        await self.dave.send_forged_proposal(self.room(channel_id), user_id)

    def corrupt_next_dave_commit(self, user_id: int) -> None:
        self.dave.corrupt_next.add(user_id)

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
            self._answer_ip_discovery(discovery_ssrc, addr)
            return
        if is_rtcp(data) or len(data) < 12:
            return  # clients' RTCP reports carry nothing the simulator uses
        connection = self.by_ssrc.get(int.from_bytes(data[8:12], "big"))
        room = self.room_of(connection) if connection is not None else None
        if connection is None or connection.key is None or connection.mode is None or room is None:
            return
        try:
            packet = decrypt_packet(connection.mode, connection.key, data)
        except TransportError as error:
            log.warning("undecryptable voice packet", user=connection.user_id, error=str(error))
            return
        connection.received_packets += 1
        if connection.udp_addr is None:
            connection.udp_addr = addr
        room.forward_from_client(connection, packet)

    def _answer_ip_discovery(self, ssrc: int, addr: tuple[str, int]) -> None:
        connection = self.by_ssrc.get(ssrc)
        if connection is None:
            return
        connection.discovered_addr = addr
        # Answer after a network-like delay: discord.py registers its reply listener only after sending the
        # request, so a reader thread already running for another listener could eat an instant reply.
        reply = ip_discovery_response(ssrc, addr[0], addr[1])
        asyncio.get_running_loop().call_later(IP_DISCOVERY_DELAY_SECONDS, self.send_datagram, reply, addr)
        self._say_goodbye(connection)

    def _say_goodbye(self, successor: VoiceConnection) -> None:
        retired = self._retired.pop((successor.guild_id, successor.user_id), None)
        if retired is None or retired.udp_addr is None or retired.udp_addr == successor.discovered_addr:
            return
        assert retired.mode is not None and retired.key is not None
        self.send_datagram(rtcp_bye(retired.mode, retired.key, retired.ssrc, retired.next_counter()),
                           retired.udp_addr)
