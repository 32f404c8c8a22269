"""DAVE in the voice server: one :class:`~pandora_simulator.dave.DaveChannelGroup` per call, wired to transports.

The group is a transport-free state machine; this module delivers what it emits — to real clients over their
voice websocket (binary ops framed ``u16 seq | u8 opcode | payload``), to simulated members by calling their
``SimulatedDaveMember`` directly — and feeds replies back, one message at a time under a per-call lock (the group
is not re-entrant). It also runs the transition ready-timeout the group leaves to the server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pandora_simulator.dave import DAVE_PROTOCOL_VERSION, DaveChannelGroup, Outgoing, SimulatedDaveMember
from pandora_simulator.dave.group import TRANSITION_TIMEOUT_SECONDS
from pandora_simulator.dave.payloads import ANNOUNCE_COMMIT_TRANSITION, BINARY_OPCODES, WELCOME
from pandora_simulator.logs import log
from pandora_simulator.opcodes import VoiceOp
from pandora_simulator.voice_room import VoiceRoom


@dataclass(eq=False)
class DaveCall:
    room: VoiceRoom
    group: DaveChannelGroup
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    timer: asyncio.TimerHandle | None = None
    timer_transition: int | None = None


class DaveCalls:
    """Per-channel DAVE groups of one voice server."""

    def __init__(self, spawn: Callable[[Coroutine[Any, Any, Any]], None]) -> None:
        self.spawn = spawn
        self.calls: dict[int, DaveCall] = {}
        self.corrupt_next: set[int] = set()  # users whose next commit or welcome arrives damaged (a fault)

    def call(self, room: VoiceRoom) -> DaveCall:
        call = self.calls.get(room.channel.id)
        if call is None:
            call = self.calls[room.channel.id] = DaveCall(room=room, group=DaveChannelGroup(room.channel.id))
        return call

    def group(self, channel_id: int) -> DaveChannelGroup | None:
        call = self.calls.get(channel_id)
        return call.group if call else None

    # --- inputs ---------------------------------------------------------------------------------------------

    async def joined(self, room: VoiceRoom, user_id: int) -> None:
        call = self.call(room)
        async with call.lock:
            participant = room.simulated.get(user_id)
            replies: list[tuple[int, int, Any]] = []
            if participant is not None:
                dave = participant.member.dave = SimulatedDaveMember(user_id, room.channel.id)
                # A client gets op 4 (creating its session and key package) before the external sender.
                start = {"dave_protocol_version": DAVE_PROTOCOL_VERSION}
                replies = [(user_id, op, body) for op, body in dave.handle(VoiceOp.SESSION_DESCRIPTION, start)]
            else:
                connection = room.clients.get(user_id)
                if connection is None or connection.dave_protocol_version < 1:
                    return  # transport-only participant: not part of the MLS group
            await self._run(call, call.group.connect(user_id), replies)

    async def left(self, room: VoiceRoom, user_id: int) -> None:
        call = self.calls.get(room.channel.id)
        if call is None:
            return
        async with call.lock:
            await self._run(call, call.group.disconnect(user_id), [])

    async def client_message(self, room: VoiceRoom, user_id: int, opcode: int, payload: Any) -> None:
        call = self.call(room)
        async with call.lock:
            await self._run(call, [], [(user_id, opcode, payload)])

    async def force_epoch_change(self, room: VoiceRoom, *, recreate: bool = False) -> None:
        call = self.call(room)
        async with call.lock:
            await self._run(call, call.group.force_epoch_change(recreate=recreate), [])

    async def send_forged_proposal(self, room: VoiceRoom, user_id: int) -> None:
        """Fault: an op 27 signed with a key that is not the external sender's (members must refuse it)."""
        call = self.call(room)
        async with call.lock:
            await self._run(call, [call.group.forged_proposal(user_id)], [])

    def settled(self, channel_id: int) -> bool:
        call = self.calls.get(channel_id)
        if call is None:
            return True
        room = call.room
        simulated_ready = all(
            p.member.dave is not None and p.member.dave.ready for p in room.simulated.values()
        ) if len(call.group.connected) > 1 else True
        return call.group.settled and simulated_ready

    # --- delivery -------------------------------------------------------------------------------------------

    async def _run(self, call: DaveCall, outgoing: list[Outgoing], inbound: list[tuple[int, int, Any]]) -> None:
        """Deliver the group's messages and feed simulated members' replies back until both queues are empty."""
        out: deque[Outgoing] = deque(outgoing)
        replies: deque[tuple[int, int, Any]] = deque(inbound)
        while out or replies:
            while out:
                message = out.popleft()
                for user_id, opcode, body in await self._deliver(call.room, message):
                    replies.append((user_id, opcode, body))
            if replies:
                user_id, opcode, body = replies.popleft()
                out.extend(call.group.receive(user_id, opcode, body))
        self._arm_timer(call)

    async def _deliver(self, room: VoiceRoom, message: Outgoing) -> list[tuple[int, int, Any]]:
        participant = room.simulated.get(message.user_id)
        if participant is not None:
            member_dave = participant.member.dave
            if member_dave is None:
                return []
            return [(message.user_id, op, body) for op, body in member_dave.handle(message.opcode, message.payload)]
        connection = room.clients.get(message.user_id)
        if connection is None:
            return []
        if message.opcode in BINARY_OPCODES:
            assert isinstance(message.payload, bytes | bytearray)
            payload = bytes(message.payload)
            if message.opcode in (ANNOUNCE_COMMIT_TRANSITION, WELCOME) and message.user_id in self.corrupt_next:
                self.corrupt_next.discard(message.user_id)
                payload = payload[:-1] + bytes([payload[-1] ^ 0x01])  # breaks the MLS MAC, keeps the framing
            await connection.send_binary(message.opcode, payload)
        else:
            await connection.send(message.opcode, message.payload)
        return []

    def _arm_timer(self, call: DaveCall) -> None:
        pending = call.group.pending_transition_id
        if pending is None or pending == call.timer_transition:
            return
        if call.timer is not None:
            call.timer.cancel()
        call.timer_transition = pending
        loop = asyncio.get_running_loop()
        call.timer = loop.call_later(TRANSITION_TIMEOUT_SECONDS,
                                     lambda: self.spawn(self._timeout(call, pending)))

    async def _timeout(self, call: DaveCall, transition_id: int) -> None:
        async with call.lock:
            call.timer, call.timer_transition = None, None
            if call.group.pending_transition_id == transition_id:
                log.info("dave transition executed on timeout", channel=call.room.channel.id,
                         transition=transition_id)
                await self._run(call, call.group.execute_pending_transition(), [])
            else:
                self._arm_timer(call)
