"""A voice channel's call: who is in it, and the SFU that forwards each sender's RTP to everyone else.

Forwarding re-encrypts the transport layer per receiver and leaves the payload (the DAVE frame) untouched.
Simulated members are in-process participants: packets to them skip UDP and go straight to their DAVE session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pandora_simulator.faults import FaultPlan, rtcp_sender_report
from pandora_simulator.logs import log
from pandora_simulator.model import SimChannel, SimMember
from pandora_simulator.opcodes import VoiceOp
from pandora_simulator.records import ReceivedAudio
from pandora_simulator.rtp import RtpPacket, encrypt_packet, seal
from pandora_simulator.voice_connection import VoiceConnection


@dataclass(eq=False)
class SimulatedParticipant:
    """A simulated member's seat in a call: its SSRC and RTP counters."""

    member: SimMember
    ssrc: int
    sequence: int
    timestamp: int

    @property
    def user_id(self) -> int:
        return self.member.id


@dataclass(frozen=True)
class RoomServices:
    """What a call needs from its voice server: UDP out, background tasks, and where joins, leaves and audio go."""

    send_datagram: Callable[[bytes, tuple[str, int]], None]
    spawn: Callable[[Coroutine[Any, Any, Any]], None]
    participant_joined: Callable[[VoiceRoom, int], Awaitable[None]]  # DAVE: add to the group
    participant_left: Callable[[VoiceRoom, int], Awaitable[None]]
    audio_received: Callable[[ReceivedAudio], None]


@dataclass(eq=False)
class VoiceRoom:
    channel: SimChannel
    services: RoomServices
    clients: dict[int, VoiceConnection] = field(default_factory=dict)
    simulated: dict[int, SimulatedParticipant] = field(default_factory=dict)

    @property
    def user_ids(self) -> list[int]:
        return [*self.clients, *self.simulated]

    @property
    def faults(self) -> FaultPlan | None:
        return self.channel.faults

    # --- membership ---------------------------------------------------------------------------------------------

    async def add_client(self, connection: VoiceConnection) -> None:
        self.clients[connection.user_id] = connection
        others = [uid for uid in self.user_ids if uid != connection.user_id]
        if others:
            await connection.send(VoiceOp.CLIENTS_CONNECT, {"user_ids": [str(uid) for uid in others]})
        await self._announce_join(connection.user_id)
        log.info("voice client joined", channel=self.channel.name, user=connection.user_id, ssrc=connection.ssrc)

    async def add_simulated(self, participant: SimulatedParticipant) -> None:
        self.simulated[participant.user_id] = participant
        await self._announce_join(participant.user_id)
        log.info("simulated member joined", channel=self.channel.name, member=participant.member.name)

    async def _announce_join(self, user_id: int) -> None:
        for other in self.clients.values():
            if other.user_id != user_id and other.ready_for_media:
                await other.send(VoiceOp.CLIENTS_CONNECT, {"user_ids": [str(user_id)]})
        await self.services.participant_joined(self, user_id)

    async def remove(self, user_id: int) -> None:
        connection = self.clients.pop(user_id, None)
        participant = self.simulated.pop(user_id, None)
        if connection is None and participant is None:
            return
        for other in self.clients.values():
            await other.send(VoiceOp.CLIENT_DISCONNECT, {"user_id": str(user_id)})
        await self.services.participant_left(self, user_id)
        log.info("voice participant left", channel=self.channel.name, user=user_id)

    # --- media ----------------------------------------------------------------------------------------------------

    async def speaking_changed(self, sender: VoiceConnection, speaking: int) -> None:
        """Relay a client's op 5 to the others (holds it back while the early-packets fault is on)."""
        if self.faults is not None and self.faults.early_packets:
            return
        for other in self.clients.values():
            if other is not sender:
                await self._announce_ssrc(other, sender.user_id, sender.ssrc, speaking)

    async def announce_speaker(self, sender: SimulatedParticipant) -> None:
        """A simulated member starts talking: clients get its op 5 before its first packet (as from Discord),
        unless the early-packets fault wants packets first."""
        if self.faults is not None and self.faults.early_packets:
            return
        for receiver in list(self.clients.values()):
            if receiver.ready_for_media and sender.ssrc not in receiver.announced:
                await self._announce_ssrc(receiver, sender.user_id, sender.ssrc)

    async def _announce_ssrc(self, receiver: VoiceConnection, user_id: int, ssrc: int, speaking: int = 1) -> None:
        receiver.announced.add(ssrc)
        await receiver.send(VoiceOp.SPEAKING, {"user_id": str(user_id), "ssrc": ssrc, "speaking": speaking})

    def forward_from_client(self, sender: VoiceConnection, packet: RtpPacket) -> None:
        """SFU path for a packet a real client sent (already transport-decrypted)."""
        self.services.audio_received(ReceivedAudio(
            user_id=sender.user_id, channel_id=self.channel.id, ssrc=packet.ssrc, sequence=packet.sequence,
            timestamp=packet.timestamp, frame=packet.payload,
        ))
        clean = RtpPacket(sequence=packet.sequence, timestamp=packet.timestamp, ssrc=packet.ssrc,
                          payload=packet.payload)
        for receiver in list(self.clients.values()):
            if receiver is not sender:
                self.send_to_client(receiver, sender.user_id, clean)
        for participant in self.simulated.values():
            participant.member.receive_frame(sender.user_id, packet.payload)

    def send_from_simulated(self, sender: SimulatedParticipant, payload: bytes) -> None:
        packet = RtpPacket(sequence=sender.sequence, timestamp=sender.timestamp, ssrc=sender.ssrc, payload=payload)
        sender.sequence = (sender.sequence + 1) & 0xFFFF
        sender.timestamp = (sender.timestamp + 960) & 0xFFFFFFFF
        for receiver in list(self.clients.values()):
            self.send_to_client(receiver, sender.user_id, packet)
        for participant in self.simulated.values():
            if participant is not sender:
                participant.member.receive_frame(sender.user_id, payload)

    def flush_faults(self, sender_ssrc: int) -> None:
        """Release packets held back for reordering at the end of a burst."""
        for receiver in self.clients.values():
            injector = receiver.injectors.get(sender_ssrc)
            if injector is not None:
                for delay, packet in injector.flush():
                    self._transmit_later(receiver, packet, delay)

    def send_to_client(self, receiver: VoiceConnection, sender_id: int, packet: RtpPacket) -> None:
        if not receiver.ready_for_media:
            return
        plan = self.faults
        if packet.ssrc not in receiver.announced and packet.ssrc not in receiver.announce_scheduled:
            receiver.announce_scheduled.add(packet.ssrc)
            announce = self._announce_ssrc(receiver, sender_id, packet.ssrc)
            if plan is not None and plan.early_packets:
                asyncio.get_running_loop().call_later(plan.early_ms / 1000, self.services.spawn, announce)
            else:
                self.services.spawn(announce)
        if plan is None:
            self._transmit(receiver, packet)
            return
        injector = receiver.injectors.get(packet.ssrc)
        if injector is None or injector.plan is not plan:
            injector = receiver.injectors[packet.ssrc] = plan.injector(receiver.ssrc, packet.ssrc)
        if injector.rtcp_due():
            header, body = rtcp_sender_report(packet.ssrc, packet.timestamp, injector.sent)
            self._send_datagram(receiver, seal(receiver.mode or "", receiver.key or b"", header, body,
                                               receiver.next_counter()))
        for delay, outgoing in injector.process(packet):
            self._transmit_later(receiver, outgoing, delay)

    def _transmit_later(self, receiver: VoiceConnection, packet: RtpPacket, delay: float) -> None:
        if delay <= 0:
            self._transmit(receiver, packet)
        else:
            asyncio.get_running_loop().call_later(delay, self._transmit, receiver, packet)

    def _transmit(self, receiver: VoiceConnection, packet: RtpPacket) -> None:
        if not receiver.ready_for_media or receiver.closed:
            return
        assert receiver.mode is not None and receiver.key is not None
        self._send_datagram(receiver, encrypt_packet(receiver.mode, receiver.key, packet, receiver.next_counter()))

    def _send_datagram(self, receiver: VoiceConnection, datagram: bytes) -> None:
        if receiver.udp_addr is not None:
            self.services.send_datagram(datagram, receiver.udp_addr)
