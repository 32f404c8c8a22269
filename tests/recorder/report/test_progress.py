"""What a recorder pod writes to its Recording's status: its progress fields, and nothing the operator owns."""

from __future__ import annotations

import datetime

from pandora.recording_api.status import RECORDER_FIELDS, camel_case
from pandora_recorder.report import Progress, SpeakerTrack

MOMENT = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_a_progress_report_patches_exactly_the_recorders_fields():
    progress = Progress(duration_seconds=12.9, bytes_written=40960,
                        speakers=[SpeakerTrack(id="500000000000000001", name="bob", track=1)])
    patch = progress.status(MOMENT).to_patch()
    assert set(patch["status"]) == {camel_case(name) for name in RECORDER_FIELDS}
    assert patch == {"status": {
        "duration": 12, "bytes": 40960, "speakers": [{"id": "500000000000000001", "name": "bob", "track": 1}],
        "speakerCount": 1, "progressAt": "2026-01-02T03:04:05Z",
    }}


def test_nobody_speaking_is_reported_as_an_empty_list():
    patch = Progress(duration_seconds=0, bytes_written=0).status(MOMENT).to_patch()
    assert (patch["status"]["speakers"], patch["status"]["speakerCount"]) == ([], 0)
