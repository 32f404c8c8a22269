"""DAVE voice-gateway opcodes and the payload layouts of the binary ones (DAVE protocol 1.1, "Voice Gateway
Opcodes"). Vectors use the MLS variable-size length header (see ``encoding``).

Binary websocket frames: server -> client ``u16 seq (BE) | u8 opcode | payload``; client -> server
``u8 opcode | payload``. ``payload`` below is what follows the opcode:

- 25 external sender (S->C): ``ExternalSender`` = ``signature_key<V> | u16 credential_type (1) | identity<V>``
- 26 key package (C->S): the member's KeyPackage (davey sends it bare, not inside an MLSMessage)
- 27 proposals (S->C): ``u8 operation_type`` then, for append (0), ``MLSMessage proposal_messages<V>`` (the
  concatenated PublicMessages behind one length header); for revoke (1), ``ProposalRef proposal_refs<V>``
  (each ref itself ``opaque<V>``)
- 28 commit/welcome (C->S): ``MLSMessage commit`` immediately followed, if the commit adds members, by the
  ``Welcome`` (davey sends it bare); no length header: the commit's own structure says where it ends
- 29 announce commit (S->C): ``u16 transition_id | MLSMessage commit``
- 30 welcome (S->C): ``u16 transition_id | Welcome`` (narrowed to the receiving member's secrets)

JSON ops carry their fields in ``d``: 21 ``{protocol_version, transition_id}``, 22 ``{transition_id}``,
23 ``{transition_id}`` (C->S), 24 ``{protocol_version, epoch}``, 31 ``{transition_id}`` (C->S).
"""

from __future__ import annotations

import struct

from pandora_simulator.opcodes import VoiceOp

from .encoding import DecodeError, Reader, opaque, u8, u16

# The DAVE document's names for its voice-gateway opcodes (numbers in ``pandora_simulator.opcodes``).
PREPARE_TRANSITION = VoiceOp.DAVE_PREPARE_TRANSITION
EXECUTE_TRANSITION = VoiceOp.DAVE_EXECUTE_TRANSITION
READY_FOR_TRANSITION = VoiceOp.DAVE_TRANSITION_READY
PREPARE_EPOCH = VoiceOp.DAVE_PREPARE_EPOCH
EXTERNAL_SENDER = VoiceOp.MLS_EXTERNAL_SENDER
KEY_PACKAGE = VoiceOp.MLS_KEY_PACKAGE
PROPOSALS = VoiceOp.MLS_PROPOSALS
COMMIT_WELCOME = VoiceOp.MLS_COMMIT_WELCOME
ANNOUNCE_COMMIT_TRANSITION = VoiceOp.MLS_ANNOUNCE_COMMIT_TRANSITION
WELCOME = VoiceOp.MLS_WELCOME
INVALID_COMMIT_WELCOME = VoiceOp.MLS_INVALID_COMMIT_WELCOME

BINARY_OPCODES = frozenset(
    {EXTERNAL_SENDER, KEY_PACKAGE, PROPOSALS, COMMIT_WELCOME, ANNOUNCE_COMMIT_TRANSITION, WELCOME}
)

PROPOSALS_APPEND = 0
PROPOSALS_REVOKE = 1


def proposals_append(messages: list[bytes]) -> bytes:
    return u8(PROPOSALS_APPEND) + opaque(b"".join(messages))


def proposals_revoke(refs: list[bytes]) -> bytes:
    return u8(PROPOSALS_REVOKE) + opaque(b"".join(opaque(ref) for ref in refs))


def with_transition(transition_id: int, body: bytes) -> bytes:
    """Op 29/30 payload: the transition id, then the commit or welcome."""
    return u16(transition_id) + body


def split_transition(payload: bytes) -> tuple[int, bytes]:
    """Inverse of ``with_transition``."""
    if len(payload) < 2:
        raise DecodeError("payload too short for a transition id")
    return struct.unpack_from(">H", payload)[0], payload[2:]


def split_revoked_refs(body: bytes) -> list[bytes]:
    """The refs of a revoke payload (after the operation type byte)."""
    vec = Reader(body).vector()
    refs = []
    while vec.remaining:
        refs.append(vec.opaque())
    return refs


def server_frame(seq: int, opcode: int, payload: bytes) -> bytes:
    """A binary server -> client websocket frame."""
    return struct.pack(">HB", seq & 0xFFFF, opcode) + payload


def parse_client_frame(frame: bytes) -> tuple[int, bytes]:
    """A binary client -> server websocket frame: (opcode, payload)."""
    if not frame:
        raise DecodeError("empty binary frame")
    return frame[0], frame[1:]
