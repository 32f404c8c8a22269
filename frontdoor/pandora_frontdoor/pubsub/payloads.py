"""The start and stop payloads a backend publishes, checked field by field; what is wrong is said in words.

``startRecordingDiscord``::

    {"voiceChannelId": "<id>"}                      required: the voice channel to record
    "guildId": "<id>"                               optional: refused when the channel is in another server
    "textChannelId": "<id>"                         optional: where the end notice is posted in Discord
    "maxDuration": <seconds>                        optional: an integer, 1 to 86400

Ids are strings of 17 to 20 digits: a 19-digit id does not survive a JSON number (it becomes a float and loses
its last digits), so a number is refused rather than guessed at. Other fields are allowed and echoed back in
``startedRecordingDiscord`` untouched, so a backend can carry its own correlation data.

``stopRecordingDiscord``: ``{"voiceChannelId": "<id>"}`` stops that channel's recording; no payload, an empty
object or no ``voiceChannelId`` stops every recording.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SNOWFLAKE = re.compile(r"^[1-9][0-9]{16,19}$")
MAX_ID = 2**64 - 1
MAX_DURATION = 86_400  # as the Recording resource allows
MAX_PAYLOAD_CHARS = 16_384  # a start or stop is a few ids: anything larger is not one
START_EXAMPLE = '{"voiceChannelId": "<voice channel id>"}'


class InvalidPayload(ValueError):
    """The request cannot be carried out as sent: ``str()`` says what to fix."""


@dataclass(frozen=True)
class StartMessage:
    payload: dict[str, Any]  # as sent: echoed in the ack
    voice_channel_id: int
    guild_id: int | None = None
    text_channel_id: int | None = None
    max_duration: int | None = None


@dataclass(frozen=True)
class StopMessage:
    voice_channel_id: int | None  # None: every recording


def _described(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else type(value).__name__


def shown(data: Any, limit: int = 200) -> str:
    """The payload as it arrived, cut short for messages and logs."""
    try:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(data)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def discord_id(payload: dict[str, Any], name: str) -> int | None:
    """The id in ``payload[name]`` (None when absent); InvalidPayload says what is wrong with it."""
    if name not in payload:
        return None
    value = payload[name]
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise InvalidPayload(f'"{name}" is a JSON number; send it as a string ("{name}": "{value}"): Discord ids '
                             "have up to 20 digits and JSON numbers keep only about 16 of them")
    if not isinstance(value, str):
        raise InvalidPayload(f'"{name}" must be a Discord id as a string of digits, not {_described(value)}')
    if not value:
        raise InvalidPayload(f'"{name}" is empty; it must be a Discord id (17 to 20 digits)')
    if not SNOWFLAKE.match(value) or int(value) > MAX_ID:
        raise InvalidPayload(f'"{name}" is {shown(value, 40)!r}, which is not a Discord id (17 to 20 digits; in '
                             "Discord: Developer Mode, right-click the channel, Copy Channel ID)")
    return int(value)


def _as_object(data: Any, topic: str, *, empty_ok: bool) -> dict[str, Any] | None:
    if isinstance(data, str):
        if len(data) > MAX_PAYLOAD_CHARS:
            raise InvalidPayload(f"the {topic} payload is {len(data)} characters long; it is a few ids at most")
        if not data.strip():
            data = None
        else:
            try:
                data = json.loads(data)  # JSON published as text
            except ValueError:
                raise InvalidPayload(f"the {topic} payload is not JSON; send {START_EXAMPLE}") from None
    if data is None or data == {}:
        if empty_ok:
            return None
        raise InvalidPayload(f"the {topic} payload is empty; send {START_EXAMPLE}")
    if not isinstance(data, dict):
        raise InvalidPayload(f"the {topic} payload is {_described(data)}; it must be an object like {START_EXAMPLE}")
    if len(json.dumps(data)) > MAX_PAYLOAD_CHARS:
        raise InvalidPayload(f"the {topic} payload is larger than {MAX_PAYLOAD_CHARS} characters; it is a few ids "
                             "at most")
    return data


def parse_start(data: Any) -> StartMessage:
    payload = _as_object(data, "startRecordingDiscord", empty_ok=False)
    assert payload is not None
    voice_channel_id = discord_id(payload, "voiceChannelId")
    if voice_channel_id is None:
        raise InvalidPayload(f'"voiceChannelId" is missing; send {START_EXAMPLE}')
    max_duration = payload.get("maxDuration")
    if max_duration is not None and (isinstance(max_duration, bool) or not isinstance(max_duration, int)
                                     or not 1 <= max_duration <= MAX_DURATION):
        raise InvalidPayload(f'"maxDuration" is {shown(max_duration, 40)}; it must be a whole number of seconds '
                             f"from 1 to {MAX_DURATION}")
    return StartMessage(payload=payload, voice_channel_id=voice_channel_id, guild_id=discord_id(payload, "guildId"),
                        text_channel_id=discord_id(payload, "textChannelId"), max_duration=max_duration)


def parse_stop(data: Any) -> StopMessage:
    payload = _as_object(data, "stopRecordingDiscord", empty_ok=True)
    return StopMessage(None if payload is None else discord_id(payload, "voiceChannelId"))
