"""Resume records in the Dapr state store, guarded so two recorders cannot both continue one recording.

Each record is saved with first-write concurrency and the etag of this recorder's previous read or write, and
carries an owner token. A recorder that resumes claims the record at once (writing it back under its own owner),
so the previous holder's next save fails with ABORTED and its next flush sees a foreign owner: it raises
`ResumeConflict` and stops writing. A claim that loses the race raises `ResumeConflict` instead.

While the state store is away, saves raise (the Dapr sink runs them again after its next uploads) and owner checks
pass (the etag guard on the next save still holds). Both are tried at most once per retry step (0.5 s doubling to
10 s): a call to an absent Redis takes daprd seconds to fail, and they share the uploader thread with the chunks.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
from dapr.clients import DaprClient
from dapr.clients.grpc._state import Concurrency, Consistency, StateOptions

from pandora.logging import get_logger
from pandora.recording_api.recorder import DEFAULT_STATE_STORE
from pandora_recorder.sinks.outage import StoreAway, StoreOutage

log = get_logger(__name__)

_GUARDED = StateOptions(concurrency=Concurrency.first_write, consistency=Consistency.strong)


class ResumeConflict(RuntimeError):
    """Another recorder took over this recording id; this one must stop writing."""


def resume_key(location: str, recording_id: int) -> str:
    """One key per recording location: the same id under another binding or prefix is another recording."""
    return f"pandora-resume|{location}{recording_id}"


class DaprResumeStore:
    """Implements `ResumeStore` on a Dapr state store (default component `pandora-statestore`)."""

    def __init__(
        self, client: DaprClient, store: str = DEFAULT_STATE_STORE, *, location: str = "", owner: str | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.location = location  # e.g. "pandora-recordings/recordings/": where the recordings' files are
        self.owner = owner or uuid.uuid4().hex
        self._etags: dict[int, str] = {}  # recording id -> etag of our last read or write
        self.outage = StoreOutage("state store")

    def load_resume(self, recording_id: int) -> dict[str, Any] | None:
        """The saved record, claimed for this recorder (raises `ResumeConflict` when another one won)."""
        owner, record = self._read(recording_id)
        self._write(recording_id, record, claiming_from=owner)
        return record

    def save_resume(self, recording_id: int, record: dict[str, Any]) -> None:
        if not self.outage.retry_due():
            raise StoreAway(f"{self.outage.what} away for {self.outage.seconds_away()} s")
        try:
            self._write(recording_id, record)
        except ResumeConflict:
            raise
        except Exception as error:
            self.outage.failed(error, recording_id=recording_id, unsaved="resume record")
            raise
        self.outage.answered(recording_id=recording_id)

    def ensure_owner(self, recording_id: int) -> None:
        """Raise `ResumeConflict` when another recorder has claimed `recording_id` since our last write."""
        if recording_id not in self._etags or not self.outage.retry_due():
            return
        try:
            owner, _ = self._read(recording_id, remember=False)
        except Exception as error:  # cannot tell; the etag guard on the next save still holds
            self.outage.failed(error, recording_id=recording_id, unchecked="resume record owner")
            return
        self.outage.answered(recording_id=recording_id)
        if owner is not None and owner != self.owner:
            raise ResumeConflict(f"recording {recording_id} was taken over by recorder {owner}")

    def _read(self, recording_id: int, *, remember: bool = True) -> tuple[str | None, dict[str, Any] | None]:
        state = self.client.get_state(self.store, resume_key(self.location, recording_id))
        if remember:
            if state.etag:
                self._etags[recording_id] = state.etag
            else:
                self._etags.pop(recording_id, None)
        if not state.data:
            return None, None
        value = json.loads(state.data)
        return value.get("owner"), value.get("record")

    def _write(
        self,
        recording_id: int,
        record: dict[str, Any] | None,
        *,
        claiming_from: str | None = None,
        retry: bool = True,
    ) -> None:
        body = json.dumps({"owner": self.owner, "record": record}, separators=(",", ":"))
        etag = self._etags.get(recording_id)
        try:
            key = resume_key(self.location, recording_id)
            self.client.save_state(self.store, key, body, etag=etag, options=_GUARDED)
        except grpc.RpcError as error:
            # ABORTED: the etag is stale. Without an etag, first-write refuses to overwrite an existing key.
            stale = error.code() is grpc.StatusCode.ABORTED
            if stale or etag is None:
                owner, _ = self._read(recording_id)
                if owner is not None and owner != self.owner:
                    raise ResumeConflict(f"recording {recording_id} belongs to recorder {owner}") from error
                if retry:  # the record is still ours: an earlier save of ours went through but its reply was lost
                    self._write(recording_id, record, claiming_from=claiming_from, retry=False)
                    return
            raise
        owner, _ = self._read(recording_id)  # learn the new etag (the SDK's save does not return it)
        if owner != self.owner:
            raise ResumeConflict(f"recording {recording_id} was taken over by recorder {owner}")
        if claiming_from is not None and claiming_from != self.owner:
            log.info("resume record taken over from the previous recorder", recording_id=recording_id,
                     previous_owner=claiming_from)
