"""What a recorder reports: how long, how many bytes, who is on which track."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SpeakerTrack:
    id: str  # Discord user id, as a string: ids exceed JSON's safe integer range
    name: str
    track: int


@dataclass(frozen=True, slots=True)
class Progress:
    duration_seconds: float
    bytes_written: int
    speakers: Sequence[SpeakerTrack] = field(default_factory=tuple)

    def status_fields(self, now: datetime.datetime | None = None) -> dict[str, Any]:
        """The fields of `Recording.status` the recorder owns."""
        moment = now or datetime.datetime.now(datetime.UTC)
        return {
            "duration": int(self.duration_seconds),
            "bytes": int(self.bytes_written),
            "speakers": [{"id": s.id, "name": s.name, "track": s.track} for s in self.speakers],
            "speakerCount": len(self.speakers),
            "progressAt": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
