"""Sinks: where raw recording files are written (local folder now, a chunked Dapr object store later)."""

from pandora_recorder.sinks.base import ResumeStore, Sink
from pandora_recorder.sinks.local import LocalFolderSink

__all__ = ["LocalFolderSink", "ResumeStore", "Sink"]
