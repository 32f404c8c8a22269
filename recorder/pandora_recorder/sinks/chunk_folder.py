"""One recording's chunk objects copied to a local folder (e.g. `aws s3 cp --recursive s3://BUCKET/PREFIX/ID/ DIR`),
seen as an `ObjectStore` so the chunked sink can join them."""

from __future__ import annotations

from pathlib import Path

from pandora_recorder.sinks.objects import StoredObject


class ChunkFolder:
    """Keys `<anything>/<file name>.<n>` map to `directory/<file name>.<n>` (one recording per folder)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key.rsplit("/", 1)[-1]

    def put(self, key: str, data: bytes) -> None:
        self._path(key).write_bytes(data)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[StoredObject]:
        return [StoredObject(prefix + path.name, path.stat().st_size)
                for path in sorted(self.directory.iterdir()) if path.is_file()]
