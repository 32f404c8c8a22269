"""Background processes with pid files, logs and process groups, so `down` (or a crashed test run followed by
`down`) leaves nothing behind."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class StartError(RuntimeError):
    """A component did not come up; the message carries the tail of its log."""


def free_port() -> int:
    # Small race between close and the server's bind; acceptable on a loopback test machine.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class ManagedProcess:
    name: str
    pid: int
    log: Path
    pid_file: Path
    popen: subprocess.Popen | None = None

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _pid_alive(self.pid)

    def fail(self, reason: str) -> StartError:
        return StartError(f"{self.name} {reason}; last lines of {self.log}:\n{log_tail(self.log)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _die_with_parent() -> None:
    # Runs in the child before exec: SIGKILL it when the process that started it dies (PR_SET_PDEATHSIG), so a
    # test run killed outright leaves no server behind.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def start(
    name: str,
    args: list[str],
    run_dir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    tie_to_parent: bool = False,
) -> ManagedProcess:
    """Start `args` in its own session (own process group), logging to run_dir/logs/<name>.log.

    With `tie_to_parent`, the process is killed when this Python process dies (tests); without, it outlives it
    (`pandora-testenv up`)."""
    logs = run_dir / "logs"
    pids = run_dir / "pids"
    logs.mkdir(parents=True, exist_ok=True)
    pids.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if tie_to_parent else None,
        )
    pid_file = pids / f"{name}.pid"
    pid_file.write_text(f"{popen.pid}\n{args[0]}\n")
    return ManagedProcess(name, popen.pid, log, pid_file, popen)


def wait_until(
    process: ManagedProcess, check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2
) -> None:
    """Poll `check` until true; fail early, with the log tail, if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise process.fail(f"exited before {what}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(interval)
    raise process.fail(f"not {what} after {timeout:.0f} s")


def start_listening(
    name: str,
    make_args: Callable[[list[int]], list[str]],
    port_count: int,
    ready: Callable[[list[int]], bool],
    run_dir: Path,
    timeout: float,
    attempts: int = 3,
    **options: Any,
) -> tuple[ManagedProcess, list[int]]:
    """Start a server on freshly picked free ports and wait until `ready(ports)`.

    A free port can be taken by another process between picking and binding (other test runs share the
    machine), so a start that fails with "address already in use" is retried on new ports."""
    for attempt in range(1, attempts + 1):
        ports = [free_port() for _ in range(port_count)]
        process = start(name, make_args(ports), run_dir, **options)
        try:
            wait_until(process, functools.partial(ready, ports), timeout, "ready")
        except StartError:
            stop(process)
            if attempt == attempts or "address already in use" not in log_tail(process.log, 10).lower():
                raise
            continue
        return process, ports
    raise AssertionError("unreachable")


def _owned(pid: int, executable: str) -> bool:
    """Guard against pid reuse: only signal a pid whose command line still names our executable."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].decode(errors="replace") == executable


def any_running(run_dir: Path) -> bool:
    """True when a pid file under run_dir names a process that is still ours and running."""
    for pid_file in (run_dir / "pids").glob("*.pid"):
        try:
            pid_text, executable = pid_file.read_text().splitlines()[:2]
        except (OSError, ValueError):
            continue
        if pid_text.isdigit() and _owned(int(pid_text), executable) and _pid_alive(int(pid_text)):
            return True
    return False


def stop_pid_file(pid_file: Path, timeout: float = 15.0) -> None:
    """SIGTERM the process group named by a pid file, SIGKILL it after `timeout`, then remove the file."""
    try:
        pid_text, executable = pid_file.read_text().splitlines()[:2]
        pid = int(pid_text)
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    if _owned(pid, executable):
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.1)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _group_alive(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.1)
    pid_file.unlink(missing_ok=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process is left in the group (the leader's children included)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop(process: ManagedProcess, timeout: float = 15.0) -> None:
    stop_pid_file(process.pid_file, timeout)
    if process.popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=1)


def stop_all(run_dir: Path, order: list[str], timeout: float = 15.0) -> None:
    """Stop every process with a pid file in run_dir, the named ones first, in that order."""
    pids = run_dir / "pids"
    if not pids.is_dir():
        return
    named = [pids / f"{name}.pid" for name in order]
    rest = sorted(set(pids.glob("*.pid")) - set(named))
    for pid_file in [*named, *rest]:
        if pid_file.exists():
            stop_pid_file(pid_file, timeout)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text` (e.g. a state directory): what `down` must leave
    none of."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmdline = path.read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found
