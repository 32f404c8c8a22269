"""What a recorder reports: how long, how many bytes, who is on which track."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from pandora.recording_api.status import RecordingStatus, Speaker, utcnow

# A speaker and the track their audio is on, as `Recording.status.speakers` lists them.
SpeakerTrack = Speaker


@dataclass(frozen=True, slots=True)
class Progress:
    duration_seconds: float
    bytes_written: int
    speakers: Sequence[SpeakerTrack] = field(default_factory=tuple)

    def status(self, now: datetime.datetime | None = None) -> RecordingStatus:
        """The fields of `Recording.status` the recorder owns (``RECORDER_FIELDS``)."""
        return RecordingStatus(
            duration=int(self.duration_seconds),
            bytes=int(self.bytes_written),
            speakers=tuple(self.speakers),
            speaker_count=len(self.speakers),
            progress_at=now or utcnow(),
        )
