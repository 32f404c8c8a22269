"""A simulated Discord user's DAVE client: a real ``davey.DaveSession`` driven the way Discord clients
(and discord.py 2.7.1, whose op handling this mirrors) drive it."""

from __future__ import annotations

from typing import Any

import davey

from pandora.logging import get_logger
from pandora_simulator.opcodes import VoiceOp

from . import payloads

log = get_logger(__name__)

Reply = tuple[int, dict[str, Any] | bytes]


class SimulatedDaveMember:
    """One simulated participant's DAVE state.

    Feed it every voice-gateway message it would receive -- op 4 (``d`` with ``dave_protocol_version``), the
    JSON DAVE ops (21, 22, 24; their ``d``) and the binary ones (25, 27, 29, 30; the payload after the opcode
    byte) -- and send the returned ``(opcode, payload)`` replies back to the gateway in order.
    """

    def __init__(self, user_id: int, channel_id: int) -> None:
        self.user_id = user_id
        self.channel_id = channel_id
        self.protocol_version = 0
        self.session: davey.DaveSession | None = None
        self.pending_transitions: dict[int, int] = {}  # transition id -> protocol version
        self.executed_transitions: list[int] = []
        self.errors: list[str] = []  # messages davey refused, oldest first
        # Test faults: corrupt the next commit this member sends / the next welcome it receives.
        self.corrupt_next_commit = False
        self.corrupt_next_welcome = False

    @property
    def ready(self) -> bool:
        """Whether this member has a group epoch and can encrypt and decrypt media."""
        return self.protocol_version > 0 and self.session is not None and self.session.ready

    @property
    def epoch(self) -> int | None:
        return self.session.epoch if self.session else None

    def handle(self, opcode: int, payload: dict[str, Any] | bytes) -> list[Reply]:
        """Process one gateway message; returns the replies to send."""
        if opcode == VoiceOp.SESSION_DESCRIPTION and isinstance(payload, dict):
            self.protocol_version = int(payload.get("dave_protocol_version", 0))
            return self._start_over()
        if self.session is None:
            return []  # like discord.py: DAVE messages before a session exists are ignored
        try:
            return self._handle_dave(opcode, payload)
        except ValueError as exc:  # davey reports refused MLS messages as ValueError
            log.warning("dave message refused by member", user_id=self.user_id, opcode=opcode, error=str(exc))
            self.errors.append(f"op {opcode}: {exc}")
            return []

    def _handle_dave(self, opcode: int, payload: dict[str, Any] | bytes) -> list[Reply]:
        session = self.session
        assert session is not None
        if isinstance(payload, dict):
            if opcode == payloads.PREPARE_TRANSITION:
                transition_id = int(payload["transition_id"])
                self.pending_transitions[transition_id] = int(payload["protocol_version"])
                if transition_id == 0:  # (re)initialisation: execute at once
                    self._execute(transition_id)
                    return []
                return [(payloads.READY_FOR_TRANSITION, {"transition_id": transition_id})]
            if opcode == payloads.EXECUTE_TRANSITION:
                self._execute(int(payload["transition_id"]))
            elif opcode == payloads.PREPARE_EPOCH and int(payload["epoch"]) == 1:
                self.protocol_version = int(payload["protocol_version"])
                return self._start_over()
            return []
        if opcode == payloads.EXTERNAL_SENDER:
            session.set_external_sender(payload)
        elif opcode == payloads.PROPOSALS:
            operation = davey.ProposalsOperationType.append if payload[0] == 0 else davey.ProposalsOperationType.revoke
            result = session.process_proposals(operation, payload[1:])
            if result is not None:
                commit = _corrupt_commit(result.commit) if self.corrupt_next_commit else result.commit
                self.corrupt_next_commit = False
                return [(payloads.COMMIT_WELCOME, commit + (result.welcome or b""))]
        elif opcode in (payloads.ANNOUNCE_COMMIT_TRANSITION, payloads.WELCOME):
            transition_id, body = payloads.split_transition(payload)
            if opcode == payloads.WELCOME and self.corrupt_next_welcome:
                self.corrupt_next_welcome = False
                body = body[:-1] + bytes([body[-1] ^ 0xFF])
            try:
                if opcode == payloads.WELCOME:
                    session.process_welcome(body)
                else:
                    session.process_commit(body)
            except ValueError as exc:
                self.errors.append(f"op {opcode}: {exc}")
                # DAVE "Recovery from Invalid Commit or Welcome": flag it, reset, send a fresh key package.
                return [(payloads.INVALID_COMMIT_WELCOME, {"transition_id": transition_id}), *self._start_over()]
            if transition_id != 0:
                self.pending_transitions[transition_id] = self.protocol_version
                return [(payloads.READY_FOR_TRANSITION, {"transition_id": transition_id})]
        return []

    def _start_over(self) -> list[Reply]:
        """(Re)create the session for the current protocol version and announce a fresh key package."""
        if self.protocol_version <= 0:
            if self.session is not None:
                self.session.reset()
                self.session.set_passthrough_mode(True, 10)
            return []
        if self.session is None:
            self.session = davey.DaveSession(self.protocol_version, self.user_id, self.channel_id)
        else:
            self.session.reinit(self.protocol_version, self.user_id, self.channel_id)
        return [(payloads.KEY_PACKAGE, self.session.get_serialized_key_package())]

    def _execute(self, transition_id: int) -> None:
        # davey switches keys as soon as it processes a commit or welcome; execution is bookkeeping here.
        if self.pending_transitions.pop(transition_id, None) is not None:
            self.executed_transitions.append(transition_id)

    # --- media ---

    def encrypt_opus(self, opus: bytes) -> bytes:
        """DAVE-encrypt one Opus frame for sending (the silence frame F8 FF FE passes through unchanged)."""
        if self.session is None:
            raise RuntimeError("no DAVE session")
        return self.session.encrypt_opus(opus)

    def decrypt(self, sender_user_id: int, frame: bytes) -> bytes:
        """Decrypt a DAVE audio frame from ``sender_user_id``; raises ValueError when it cannot."""
        if self.session is None:
            raise RuntimeError("no DAVE session")
        return self.session.decrypt(sender_user_id, davey.MediaType.audio, frame)


def _corrupt_commit(commit: bytes) -> bytes:
    """Flip a bit in the commit's last byte, part of its membership tag (a MAC over the whole message): the
    commit stays well-formed, so the gateway (which cannot check member MACs) accepts it, but every receiver's
    MLS validation fails."""
    return commit[:-1] + bytes([commit[-1] ^ 0x01])
