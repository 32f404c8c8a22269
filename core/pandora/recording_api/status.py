"""A Recording's status, typed: the operator writes its lifecycle fields, the recorder pod its progress fields.

Both write JSON merge patches (``to_patch``) to the status subresource, so neither overwrites the other's fields.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from pandora.recording_api.resource import Phase


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with whole seconds, as Kubernetes writes timestamps."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> datetime.datetime:
    """Now, to the second a status keeps, so that a value written compares equal to the value read back."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Speaker:
    id: str  # Discord user id, as a string: ids exceed JSON's safe integer range
    name: str
    track: int


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime.datetime | None = None
    observed_generation: int | None = None


@dataclass(frozen=True, slots=True)
class RecordingStatus:
    """A Recording's status, or a change to it. A field is None when it is not (to be) written.

    None means absent, not a default: a writer must tell a field never written (which it must write) from one
    that already holds the value it wants.
    """

    phase: Phase | None = None
    recording_id: str | None = None
    pod: str | None = None
    bot: str | None = None
    restarts: int | None = None
    location: str | None = None
    started_at: datetime.datetime | None = None
    ended_at: datetime.datetime | None = None
    message: str | None = None
    observed_generation: int | None = None
    conditions: tuple[Condition, ...] | None = None
    # Progress (RECORDER_FIELDS).
    duration: int | None = None  # seconds recorded
    bytes: int | None = None
    speakers: tuple[Speaker, ...] | None = None
    speaker_count: int | None = None
    progress_at: datetime.datetime | None = None

    @classmethod
    def from_resource(cls, status: Mapping[str, Any] | None) -> RecordingStatus:
        return _from_resource(cls, status or {})

    def to_resource(self) -> dict[str, Any]:
        """The fields that are set, camelCase and JSON-ready."""
        return _to_resource(self)

    def to_patch(self) -> dict[str, Any]:
        """The merge patch (``application/merge-patch+json``) of the status subresource that sets these fields."""
        return {"status": self.to_resource()}

    def changes_from(self, current: RecordingStatus) -> RecordingStatus:
        """The fields set here whose values differ from ``current``'s."""
        return RecordingStatus(**{
            name: value for name in _set_fields(self) if (value := getattr(self, name)) != getattr(current, name)
        })

    def updated(self, changes: RecordingStatus) -> RecordingStatus:
        """This status with the fields set in ``changes`` replaced."""
        return dataclasses.replace(self, **{name: getattr(changes, name) for name in _set_fields(changes)})

    def is_empty(self) -> bool:
        return not _set_fields(self)


# What a recorder pod writes (the chart's admission policy lets it write nothing else); the operator writes the rest.
RECORDER_FIELDS = frozenset({"duration", "bytes", "speakers", "speaker_count", "progress_at"})


@functools.cache
def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _set_fields(value: Any) -> list[str]:
    return [name for name, _, _ in _fields_of(type(value)) if getattr(value, name) is not None]


T = TypeVar("T")
Decoder = Callable[[Any], Any]
_FIELDS: dict[type, tuple[tuple[str, str, Decoder], ...]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, str, Decoder], ...]:
    """(name, camelCase name, decoder) per field, worked out once per class from its type hints."""
    if (known := _FIELDS.get(cls)) is None:
        hints = typing.get_type_hints(cls)
        known = _FIELDS[cls] = tuple(
            (item.name, camel_case(item.name), _decoder(hints[item.name])) for item in fields(cls)
        )
    return known


def _from_resource(cls: type[T], resource: Mapping[str, Any]) -> T:
    return cls(**{
        name: decode(raw) for name, camel, decode in _fields_of(cls) if (raw := resource.get(camel)) is not None
    })


def _decoder(hint: Any) -> Decoder:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return lambda raw: tuple(_from_resource(item, entry) for entry in raw)
        return tuple
    if hint is datetime.datetime:
        return parse_time
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    return _same


def _same(raw: Any) -> Any:
    return raw


def _to_resource(value: Any) -> dict[str, Any]:
    return {camel_case(name): _encode(getattr(value, name)) for name in _set_fields(value)}


def _encode(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_resource(entry) if dataclasses.is_dataclass(entry) else entry for entry in value]
    if isinstance(value, datetime.datetime):
        return format_time(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value
