"""Bytes a chunked sink could not keep in memory while its object store was away, in a folder on the local disk.

In a recorder pod that folder is under `/tmp`, an emptyDir the pod already mounts (`PANDORA_SPILL_DIR` names
another). A spill file continues one raw file from a byte offset written into its name,
`<folder>/<prefix, quoted>/<file name>@<offset>.spill` (e.g. `recordings%2F/872660673.ogg.data@1048576.spill`),
so a later recorder on the same disk takes it up when the store's copy of the file ends inside it.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ENV_SPILL_DIR = "PANDORA_SPILL_DIR"
ENV_SPILL_LIMIT_MB = "PANDORA_SPILL_LIMIT_MB"
# The recorder pod's /tmp emptyDir has a 256 MiB sizeLimit (exceeding it evicts the pod): stay well under it.
DEFAULT_SPILL_LIMIT = 192 * 1024 * 1024
_SPILL_NAME = re.compile(r"^(?P<name>[^/@]+)@(?P<start>\d+)\.spill$")


@dataclass
class SpillFile:
    """Bytes `start` .. `start + length` of the raw file `name`, of which the first `sent` are in the store."""

    path: Path
    name: str
    start: int
    length: int = 0
    sent: int = 0

    @property
    def waiting(self) -> int:
        return self.length - self.sent

    def append(self, data: bytes) -> None:
        try:
            with self.path.open("ab") as file:
                file.write(data)
        except OSError:
            self._cut_to(self.length)  # a torn write (disk full) must not shift what follows
            raise
        self.length += len(data)

    def read(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset` bytes into the waiting part (fewer at its end)."""
        with self.path.open("rb") as file:
            file.seek(self.sent + offset)
            return file.read(max(0, min(size, self.waiting - offset)))

    def keep_waiting(self, size: int) -> None:
        """Cut the waiting part to `size` bytes."""
        self._cut_to(self.sent + size)
        self.length = self.sent + size

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def _cut_to(self, length: int) -> None:
        if self.path.exists() and self.path.stat().st_size > length:
            os.truncate(self.path, length)


class SpillFolder:
    """Where spill files go, and how many waiting bytes they may hold in all (`limit`)."""

    def __init__(self, directory: Path, limit: int = DEFAULT_SPILL_LIMIT) -> None:
        self.directory = directory
        self.limit = limit

    def _folder(self, prefix: str) -> Path:
        return self.directory / (quote(prefix, safe="") or "_")

    def create(self, prefix: str, name: str, start: int) -> SpillFile:
        folder = self._folder(prefix)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}@{start}.spill"
        path.unlink(missing_ok=True)  # an older spill at the same offset was taken up already or is superseded
        return SpillFile(path, name, start)

    def saved(self, prefix: str) -> list[SpillFile]:
        """Spill files left under `prefix` by earlier recorders on this disk, by name and offset."""
        folder = self._folder(prefix)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            match = _SPILL_NAME.match(path.name)
            if match and path.is_file():
                found.append(SpillFile(path, match["name"], int(match["start"]), path.stat().st_size))
        return sorted(found, key=lambda spill: (spill.name, spill.start))


def spill_folder_from_env(environ: dict[str, str] | None = None) -> SpillFolder:
    """`$PANDORA_SPILL_DIR` (default `<temp dir>/pandora-spill`), at most `$PANDORA_SPILL_LIMIT_MB` MiB."""
    env = os.environ if environ is None else environ
    directory = Path(env.get(ENV_SPILL_DIR) or Path(tempfile.gettempdir()) / "pandora-spill")
    limit_mb = env.get(ENV_SPILL_LIMIT_MB)
    return SpillFolder(directory, int(float(limit_mb) * 1024 * 1024) if limit_mb else DEFAULT_SPILL_LIMIT)
