"""The five files of a raw recording as Craig and Pandora write them: names, header packets, users and info JSON."""

from __future__ import annotations

import json
import secrets
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pandora_recorder.frames import Speaker

SAMPLE_RATE = 48_000
# Version 1, 2 channels, pre-skip 3840, 48 kHz, gain 0, mapping family 0: what Craig and Pandora write.
OPUS_HEAD = bytes.fromhex("4f707573486561640102000f80bb0000000000")
VENDOR = b"Pandora"
OPUS_TAGS = b"OpusTags" + struct.pack("<I", len(VENDOR)) + VENDOR + struct.pack("<I", 0)
USERS_PREAMBLE = b'"0":{}\n'

FILE_KINDS = ("header1", "header2", "data", "users", "info")


def file_name(recording_id: int, kind: str) -> str:
    """`<id>.ogg.<kind>`, the names Craig's and Pandora's cook tools look for."""
    if kind not in FILE_KINDS:
        raise ValueError(f"unknown raw file kind {kind!r}")
    return f"{recording_id}.ogg.{kind}"


def new_recording_id() -> int:
    """A random 9-digit id like Craig's: numeric, because Pandora's cooking server rejects anything else."""
    return 100_000_000 + secrets.randbelow(900_000_000)


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def user_record(speaker: Speaker) -> dict[str, Any]:
    """The superset of Craig's and Pandora's per-track user fields."""
    return {
        "id": str(speaker.id),
        "name": speaker.name,
        "discrim": speaker.discriminator,
        "username": speaker.username,
        "discriminator": speaker.discriminator,
        "globalName": speaker.global_name,
        "bot": speaker.bot,
        "avatarUrl": speaker.avatar_url,
    }


def users_line(track: int, speaker: Speaker) -> bytes:
    return f',"{track}":{compact_json(user_record(speaker))}\n'.encode()


def parse_users(text: bytes) -> dict[int, dict[str, Any]]:
    """Track number -> user record, as readers do: `'{' + text + '}'`. A torn last line is ignored."""
    complete = text[: text.rfind(b"\n") + 1]
    parsed = json.loads(b"{" + complete + b"}") if complete else {}
    return {int(track): user for track, user in parsed.items() if int(track) > 0}


def _random_key() -> str:
    return str(secrets.randbelow(10**9))


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """What `.info` says about a recording; the writer adds the start time."""

    guild_id: int | None = None
    guild_name: str = ""
    guild_icon: str | None = None
    channel_id: int | None = None
    channel_name: str = ""
    channel_type: int = 2  # GUILD_VOICE
    requester: Speaker | None = None
    client_id: int | None = None
    key: str = field(default_factory=_random_key)
    delete: str = field(default_factory=_random_key)


def _tag(user: Speaker) -> str:
    return user.username if user.discriminator in ("", "0") else f"{user.username}#{user.discriminator}"


def info_record(info: RecordingInfo, start: datetime) -> dict[str, Any]:
    """The superset of Craig's and Pandora's `.info` fields."""
    requester = info.requester
    return {
        "format": 1,
        "key": info.key,
        "delete": info.delete,
        "guild": info.guild_name,
        "guildExtra": {
            "name": info.guild_name,
            "id": None if info.guild_id is None else str(info.guild_id),
            "icon": info.guild_icon,
        },
        "channel": info.channel_name,
        "channelExtra": {
            "name": info.channel_name,
            "id": None if info.channel_id is None else str(info.channel_id),
            "type": info.channel_type,
        },
        "requester": _tag(requester) if requester else "",
        "requesterExtra": {
            "username": requester.username if requester else "",
            "globalName": requester.global_name if requester else None,
            "discriminator": requester.discriminator if requester else "0",
            "avatar": requester.avatar_url if requester else None,
        },
        "requesterId": str(requester.id) if requester else "",
        "clientId": None if info.client_id is None else str(info.client_id),
        "startTime": iso_millis(start),
    }


def iso_millis(moment: datetime) -> str:
    """`2020-09-24T12:56:29.760Z`, JavaScript's toISOString as in the reference files."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def info_bytes(info: RecordingInfo, start: datetime) -> bytes:
    return (compact_json(info_record(info, start)) + "\n").encode()
