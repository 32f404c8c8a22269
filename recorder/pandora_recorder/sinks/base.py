"""Where a recording's bytes go.

The writer only ever appends whole pages and lines, once per flush interval and per file, and reads back only
to resume. A chunked object-store sink fits the same protocol: `append` buffers, `flush` has its uploader thread
put the new bytes up as numbered chunks, `read` concatenates chunks, `truncate` drops or rewrites trailing chunks.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Sink(Protocol):
    """Named append-only files of one or more recordings (names like `872660673.ogg.data`)."""

    def append(self, name: str, data: bytes) -> None:
        """Add bytes at the end of `name`, creating it when missing."""

    def flush(self) -> None:
        """Send every appended byte on its way to durable storage without waiting on the network: a folder
        writes it; an object-store sink uploads it in the background (its `close` waits for the uploads)."""

    def size(self, name: str) -> int:
        """Current length of `name` including appended bytes; 0 when it does not exist. The writer asks after
        every flush, so keep it cheap (a chunked sink counts instead of listing objects)."""

    def read(self, name: str, start: int = 0, length: int | None = None) -> bytes:
        """Bytes of `name` from `start` (to the end, or `length` bytes); b"" when it does not exist."""

    def truncate(self, name: str, size: int) -> None:
        """Cut `name` to `size` bytes (resume uses it to drop a torn last page)."""

    def close(self) -> None:
        """Flush and release resources; the sink is not used afterwards."""


@runtime_checkable
class ResumeStore(Protocol):
    """Keeps the small resume record of each recording (a JSON file in the local folder, or a Dapr state store)."""

    def load_resume(self, recording_id: int) -> dict[str, Any] | None:
        """The last saved record, or None."""

    def save_resume(self, recording_id: int, record: dict[str, Any]) -> None:
        """Replace the record atomically."""
