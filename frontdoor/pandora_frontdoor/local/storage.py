"""Where ``pandora bot`` writes: the ``--out`` folder, or chunk objects through a Dapr binding.

The original Pandora's ``OBJECT_STORE_NAME`` names the binding; when it is set and a sidecar answers, recordings
go through Dapr (with their resume records in ``STORE_NAME``); otherwise to the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pandora.recording_api.recorder import DEFAULT_STATE_STORE, DEFAULT_STORAGE_PREFIX
from pandora_recorder.sinks.base import Sink
from pandora_recorder.sinks.local import LocalFolderSink


@dataclass(frozen=True)
class Storage:
    out: Path
    binding: str | None = None  # a Dapr output binding: None writes to ``out``
    prefix: str = DEFAULT_STORAGE_PREFIX
    state_store: str | None = None

    def open(self) -> tuple[Sink, Callable[[int], str]]:
        """A sink for one recording, and how to name a recording's location in it (blocking: Dapr waits for
        its sidecar)."""
        if self.binding:
            from pandora_recorder.sinks.dapr import open_dapr_sink  # loads the Dapr SDK only when used

            sink = open_dapr_sink(self.binding, self.prefix, self.state_store or DEFAULT_STATE_STORE)
            return sink, sink.location
        folder = self.out.resolve()
        return LocalFolderSink(folder), lambda _recording_id: str(folder)

