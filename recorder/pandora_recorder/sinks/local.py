"""A folder on the local disk: standalone mode and tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class LocalFolderSink:
    """Appends straight to files in `directory` (one `write` per call, so a SIGKILL can only tear the last
    write) and keeps resume records as hidden JSON files beside them. Implements `Sink` and `ResumeStore`."""

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._files: dict[str, int] = {}

    def path(self, name: str) -> Path:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        return self.directory / name

    def _fd(self, name: str) -> int:
        fd = self._files.get(name)
        if fd is None:
            fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._files[name] = fd
        return fd

    def append(self, name: str, data: bytes) -> None:
        fd = self._fd(name)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def flush(self) -> None:
        if self.fsync:
            for fd in self._files.values():
                os.fsync(fd)

    def size(self, name: str) -> int:
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError:
            return 0

    def read(self, name: str, start: int = 0, length: int | None = None) -> bytes:
        try:
            with self.path(name).open("rb") as file:
                file.seek(start)
                return file.read() if length is None else file.read(length)
        except FileNotFoundError:
            return b""

    def truncate(self, name: str, size: int) -> None:
        if self.size(name) > size:
            os.truncate(self.path(name), size)

    def close(self) -> None:
        self.flush()
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()

    def _resume_path(self, recording_id: int) -> Path:
        return self.directory / f".{recording_id}.resume.json"

    def load_resume(self, recording_id: int) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = json.loads(self._resume_path(recording_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return loaded

    def save_resume(self, recording_id: int, record: dict[str, Any]) -> None:
        # Write then rename, so a kill leaves either the old record or the new one.
        path = self._resume_path(recording_id)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, separators=(",", ":")))
        os.replace(temporary, path)
