"""The recorder's storage in a Kubernetes pod: chunks through a Dapr object-store binding, resume records in the
Dapr state store. The local filesystem (read-only in a pod, but for its /tmp emptyDir) is touched only to spill
what the object store cannot take while it is away (`sinks.spill`)."""

from __future__ import annotations

import functools
from typing import Any

from dapr.clients import DaprClient

from pandora.logging import get_logger
from pandora.recording_api.recorder import (
    DEFAULT_STATE_STORE,
    DEFAULT_STORAGE_BINDING,
    DEFAULT_STORAGE_PREFIX,
    storage_location,
)
from pandora_recorder.sinks.chunked import DEFAULT_MAX_BUFFER, ChunkedObjectSink
from pandora_recorder.sinks.dapr_state import DaprResumeStore, ResumeConflict
from pandora_recorder.sinks.objects import binding_objects
from pandora_recorder.sinks.spill import SpillFolder

log = get_logger(__name__)


class DaprSink(ChunkedObjectSink):
    """Implements `Sink` and `ResumeStore`: `<prefix><id>/<id>.ogg.<kind>.<n>` chunks in `binding`, the resume
    record in `state_store`, saved on the uploader thread once the chunks it accounts for are stored (so a record
    never claims bytes the store lacks). Before each round of uploads it checks that no other recorder has claimed
    the recording, so a second pod resuming the same id makes this one stop (`ResumeConflict` from the next
    `flush`) instead of overwriting."""

    fatal_errors = (ResumeConflict,)

    def __init__(
        self,
        client: DaprClient,
        binding: str = DEFAULT_STORAGE_BINDING,
        prefix: str = DEFAULT_STORAGE_PREFIX,
        state_store: str = DEFAULT_STATE_STORE,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        spill: SpillFolder | None = None,
    ) -> None:
        super().__init__(binding_objects(client, binding), prefix, max_buffer=max_buffer, spill=spill)
        self.client = client
        self.binding = binding
        self.resume = DaprResumeStore(client, state_store, location=f"{binding}/{prefix}")
        self._claimed: set[int] = set()

    def location(self, recording_id: int) -> str:
        """As the operator reports it in `status.location`."""
        return storage_location(self.binding, self.prefix, recording_id)

    def load_resume(self, recording_id: int) -> dict[str, Any] | None:
        record = self.resume.load_resume(recording_id)
        self._claimed.add(recording_id)
        # Chunks a previous holder uploaded before our claim must be seen, or we would reuse their numbers.
        self.forget_listing(recording_id)
        return record

    def save_resume(self, recording_id: int, record: dict[str, Any]) -> None:
        """Saved once the bytes appended so far are stored; a newer record replaces one still waiting."""
        self._claimed.add(recording_id)
        self.when_stored(("resume", recording_id), functools.partial(self.resume.save_resume, recording_id, record))

    def before_upload(self) -> None:
        for recording_id in list(self._claimed):
            self.resume.ensure_owner(recording_id)

    def close(self, timeout: float | None = None) -> None:
        if self._closed:
            return
        try:
            super().close(timeout)
            unsaved = [key[1] for key in self.pending_actions() if isinstance(key, tuple) and key[0] == "resume"]
            if unsaved:  # nothing is lost: a resumed recording reads its files from where the last record points
                log.warning("closed before the state store took the last resume record", recording_ids=unsaved,
                            store_away_seconds=self.resume.outage.seconds_away())
        except ResumeConflict as conflict:  # the other recorder owns the files now: leave them alone
            log.error("recording taken over by another recorder; its last bytes from here are not uploaded",
                      error=str(conflict), unsent=self.buffered_bytes())
        finally:
            self.client.close()


def open_dapr_sink(
    binding: str = DEFAULT_STORAGE_BINDING,
    prefix: str = DEFAULT_STORAGE_PREFIX,
    state_store: str = DEFAULT_STATE_STORE,
    *,
    spill: SpillFolder | None = None,
) -> DaprSink:
    """A `DaprSink` on the sidecar named by the DAPR_* environment (waits for it like `DaprClient()` does)."""
    return DaprSink(DaprClient(), binding, prefix, state_store, spill=spill)
