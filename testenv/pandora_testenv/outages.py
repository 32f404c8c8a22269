"""Storage outages on demand, for tests and the chaos harness (`reliability/`).

* `TcpLink`: a TCP relay in front of a server (moto's S3). `cut()` closes its port and resets every open
  connection, so clients get "connection refused" as from a stopped server; `restore()` listens on the same port
  again. moto keeps objects in memory only, so stopping moto itself would also lose the chunks uploaded before the
  outage, which are what a test compares against.
* `RestartableRedis`: Debian's redis-server with an append-only file, stopped (SIGTERM, or SIGKILL) and started
  again on the same port with its data, as a Redis pod restarting behind its Service.
* `OutageStack`: both, with a bucket of its own and a daprd rendered against them (`start_outage_stack`).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pandora_testenv.processes import ManagedProcess, StartError, free_port, log_tail, start, wait_until
from pandora_testenv.services import REDIS_SERVER, Daprd, RedisServer, S3Server, render_components, start_daprd

_RELAY_BUFFER = 256 * 1024


class TcpLink:
    """127.0.0.1:`port` relays to `target`; `cut()` and `restore()` take it down and up on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.cuts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def up(self) -> bool:
        return self._listener is not None

    def start(self) -> TcpLink:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name=f"tcp-link-{self.port}", daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset the open ones (RST, not FIN: as a crashed server's host answers)."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            self.cuts += 1
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for connection in connections:
            _reset(connection)

    def restore(self) -> None:
        if self._listener is None:
            self.start()

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    _reset(client)
                    server.close()
                    return
                self._connections |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_RELAY_BUFFER):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with self._lock:
            self._connections.discard(source)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class RestartableRedis:
    """redis-server on a fixed port with `appendonly yes`; `stop()` and `start()` keep port and data."""

    def __init__(self, run_dir: Path, name: str = "redis-restartable") -> None:
        self.run_dir = run_dir
        self.name = name
        self.data = run_dir / name
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.process: ManagedProcess | None = None
        self.restarts = 0

    @property
    def server(self) -> RedisServer:
        """As `pandora_testenv.services.render_components` takes it."""
        assert self.process is not None, "start it first"
        return RedisServer("127.0.0.1", self.port, self.process)

    def start(self, timeout: float = 15) -> RestartableRedis:
        if not Path(REDIS_SERVER).exists():
            raise StartError(f"{REDIS_SERVER} missing: install Debian's redis-server (scripts/setup does)")
        for _attempt in range(3):
            port = self.port or free_port()
            process = start(self.name, [
                REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.data),
                "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no",
            ], self.run_dir, tie_to_parent=True)
            try:
                wait_until(process, functools.partial(_redis_ping, port), timeout, "ready")
            except StartError:
                self._end(process)
                if self.port or "address already in use" not in log_tail(process.log, 10).lower():
                    raise
                continue
            self.port, self.process = port, process
            return self
        raise StartError(f"{self.name}: no free port")

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (Redis finishes its append-only file) or SIGKILL; then the port refuses connections."""
        if self.process is not None:
            self._end(self.process, kill=kill)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
        self.restarts += 1

    def _end(self, process: ManagedProcess, *, kill: bool = False) -> None:
        popen = process.popen
        assert popen is not None
        popen.kill() if kill else popen.terminate()
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)
        process.pid_file.unlink(missing_ok=True)


def _redis_ping(port: int) -> bool:
    import redis

    return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())


@dataclass
class OutageStack:
    """A daprd whose object store (`bucket` in moto, through `link`) and state store (`redis`) can be taken away."""

    s3: S3Server  # moto, reached directly (not through the link)
    bucket: str
    link: TcpLink
    redis: RestartableRedis
    daprd: Daprd

    def files(self, prefix: str) -> dict[str, bytes]:
        return self.s3.chunk_files(prefix, self.bucket)

    def object_count(self, prefix: str) -> int:
        return self.s3.object_count(prefix, self.bucket)

    def close(self) -> None:
        self.daprd.stop()
        self.link.close()
        self.redis.stop()


def start_outage_stack(run_dir: Path, s3: S3Server, name: str | None = None) -> OutageStack:
    """A bucket `name` in `s3` behind a new `TcpLink`, a new `RestartableRedis`, and a daprd (app id `name`)
    running components/ against both, its files under `run_dir/name`."""
    name = name or f"outage-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=name)
    endpoint = urlparse(s3.endpoint)
    link = TcpLink((endpoint.hostname or "127.0.0.1", endpoint.port or 80)).start()
    redis = RestartableRedis(run_dir, f"redis-{name}").start()
    components = render_components(run_dir / name / "components", redis.server, S3Server(link.url, name, s3.process),
                                   run_dir / name / "objects")
    return OutageStack(s3, name, link, redis, start_daprd(run_dir, components, app_id=name))
