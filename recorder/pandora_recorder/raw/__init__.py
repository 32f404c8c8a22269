"""The raw recording format of Craig and the original Pandora: Ogg pages, users and info files, resume, and
(``scan``) reading back files that may be damaged."""

from pandora_recorder.raw.format import RecordingInfo, file_name, new_recording_id
from pandora_recorder.raw.writer import RawRecordingWriter, WriterStats

__all__ = ["RawRecordingWriter", "RecordingInfo", "WriterStats", "file_name", "new_recording_id"]
