"""Process handling under the control plane: port races and cleanup."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from pandora_testenv.kubeapi import http_ok
from pandora_testenv.processes import start_listening, stop


def test_start_listening_retries_when_its_port_was_taken(tmp_path: Path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        used: list[int] = []

        def server_args(ports: list[int]) -> list[str]:
            # The first attempt gets the port someone else holds, as if it had been grabbed after picking.
            used.append(taken if not used else ports[0])
            return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(used[-1])]

        process, ports = start_listening(
            "web", server_args, 1, lambda p: http_ok(f"http://127.0.0.1:{used[-1]}/"), tmp_path, 20,
            tie_to_parent=True,
        )
        try:
            assert used == [taken, ports[0]]
            assert http_ok(f"http://127.0.0.1:{ports[0]}/")
        finally:
            stop(process)
    assert not process.alive()
    assert "address already in use" in (tmp_path / "logs" / "web.log").read_text().lower()
