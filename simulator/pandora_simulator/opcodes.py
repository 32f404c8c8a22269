"""Discord's wire numbers by name: gateway and voice-gateway opcodes (DAVE's 21-31 among them), close codes, intents.

Values from Discord's "Opcodes and Status Codes" page and the DAVE protocol document. Every server module uses these
names; a bare number on the wire side of the simulator is a bug.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class GatewayOp(IntEnum):
    """Main gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class GatewayClose(IntEnum):
    """Main gateway close codes (1000/1001 are the client's own: end the session)."""

    UNKNOWN_ERROR = 4000  # also what the simulator's fault closes use: clients resume
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


class Intent(IntFlag):
    """Gateway intents the simulator honours."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    MESSAGE_CONTENT = 1 << 15


# Intents an application must have enabled (Developer Portal, Bot, Privileged Gateway Intents) to ask for them.
PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT


class VoiceOp(IntEnum):
    """Voice gateway (v8) opcodes, DAVE's included."""

    IDENTIFY = 0
    SELECT_PROTOCOL = 1
    READY = 2
    HEARTBEAT = 3
    SESSION_DESCRIPTION = 4
    SPEAKING = 5
    HEARTBEAT_ACK = 6
    RESUME = 7
    HELLO = 8
    RESUMED = 9
    CLIENTS_CONNECT = 11
    CLIENT_CONNECT = 12
    CLIENT_DISCONNECT = 13
    DAVE_PREPARE_TRANSITION = 21
    DAVE_EXECUTE_TRANSITION = 22
    DAVE_TRANSITION_READY = 23
    DAVE_PREPARE_EPOCH = 24
    MLS_EXTERNAL_SENDER = 25
    MLS_KEY_PACKAGE = 26
    MLS_PROPOSALS = 27
    MLS_COMMIT_WELCOME = 28
    MLS_ANNOUNCE_COMMIT_TRANSITION = 29
    MLS_WELCOME = 30
    MLS_INVALID_COMMIT_WELCOME = 31


class VoiceClose(IntEnum):
    """Voice gateway close codes."""

    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    SESSION_INVALID = 4006
    SESSION_TIMEOUT = 4009
    SERVER_NOT_FOUND = 4011
    UNKNOWN_PROTOCOL = 4012
    DISCONNECTED = 4014  # kicked, moved, or the owning gateway session ended: do not reconnect
    SERVER_CRASHED = 4015  # resumable
    UNKNOWN_ENCRYPTION_MODE = 4016
    DAVE_REQUIRED = 4017
    BAD_REQUEST = 4020
    RATE_LIMITED = 4021
    CALL_TERMINATED = 4022


class WebSocketClose(IntEnum):
    """RFC 6455 close codes the simulator tells apart."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006  # the connection dropped without a close frame


# Close codes with which a client ends its gateway session for good (anything else may RESUME).
CLIENT_ENDED_CODES = frozenset({WebSocketClose.NORMAL, WebSocketClose.GOING_AWAY})
