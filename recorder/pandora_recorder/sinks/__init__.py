"""Sinks: where raw recording files are written (a local folder, or chunks in an object store through Dapr:
`pandora_recorder.sinks.dapr.DaprSink`, imported from there so standalone mode does not load the Dapr SDK), and
`joined`: a recording's chunks read back into its files, checked (`pandora fetch`), and `whole_files`: the five
files put whole at the bucket root when a recording ends (what the original Pandora's cooking server reads)."""

from pandora_recorder.sinks.base import ResumeStore, Sink
from pandora_recorder.sinks.chunked import ChunkedObjectSink
from pandora_recorder.sinks.local import LocalFolderSink

__all__ = ["ChunkedObjectSink", "LocalFolderSink", "ResumeStore", "Sink"]
