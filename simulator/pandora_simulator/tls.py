"""A throwaway certificate authority for the voice websocket.

discord.py always opens the voice websocket as ``wss://{endpoint}/?v=8``, so the simulator must speak TLS there;
clients trust the generated CA through ``PANDORA_DISCORD_CA_FILE``.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class SimulatorCertificates:
    """A CA written to ``ca_file`` and a server context whose certificate is valid for 127.0.0.1, localhost and
    the simulator's own address."""

    ca_file: Path
    server_context: ssl.SSLContext
    _directory: tempfile.TemporaryDirectory[str]

    @classmethod
    def generate(cls, host: str = "127.0.0.1") -> SimulatorCertificates:
        authority = trustme.CA(organization_name="Pandora simulator")
        certificate = authority.issue_cert(*dict.fromkeys(("127.0.0.1", "localhost", host)))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        directory = tempfile.TemporaryDirectory(prefix="pandora-sim-ca-")
        ca_file = Path(directory.name) / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        return cls(ca_file=ca_file, server_context=context, _directory=directory)

    def cleanup(self) -> None:
        self._directory.cleanup()
