"""A Kubernetes cluster for tests, whichever backend provides it, behind one small handle."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from pandora_testenv.cache import binary_path
from pandora_testenv.controlplane import NODE_ANNOTATION, NODE_NAME, ControlPlane

KUBECONFIG_ENV = "PANDORA_TEST_KUBECONFIG"
# The annotation that makes KWOK finish a Running pod: "0" -> Succeeded, any other integer -> Failed with that
# exit code in every container status (see kwok-stages.yaml).
EXIT_CODE_ANNOTATION = "pandora.dev/exit-code"
# KWOK removes a deleted pod at once, or this long (a Go duration, e.g. "3s") after deletion was requested: a
# container that takes that long to exit on SIGTERM.
TERMINATION_DELAY_ANNOTATION = "pandora.dev/termination-delay"


def tool(name: str) -> str:
    """A built binary from the cache, else the one on PATH (kind or a user's cluster brings its own)."""
    built = binary_path(name)
    if built.is_file():
        return str(built)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: run `.venv/bin/pandora-testenv build`")
    return found


@dataclass
class KubeCluster:
    kubeconfig: Path
    # "local" (this package's control plane), "kubeconfig" (PANDORA_TEST_KUBECONFIG) or "kind"
    backend: str
    control_plane: ControlPlane | None = None
    _helm_home: Path | None = field(default=None, repr=False)

    @cached_property
    def simulates_pods(self) -> bool:
        """True when pods run on the KWOK fake node and honour EXIT_CODE_ANNOTATION (always for the local
        control plane; for a named cluster, when it is one `pandora-testenv up` started)."""
        if self.backend == "local":
            return True
        key = NODE_ANNOTATION[0].replace(".", "\\.")
        node = self.kubectl("get", "node", NODE_NAME, "-o", f"jsonpath={{.metadata.annotations.{key}}}")
        return node.returncode == 0 and node.stdout == NODE_ANNOTATION[1]

    @property
    def fake_node(self) -> str | None:
        return NODE_NAME if self.simulates_pods else None

    def token_kubeconfig(self, token: str, path: Path) -> Path:
        """Write a kubeconfig for `path` that reaches this cluster with only a bearer token (e.g. a service
        account's), so requests are made as that identity and not as the admin."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        context = next(c for c in config["contexts"] if c["name"] == config["current-context"])["context"]
        cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])
        token_config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": "token", "user": {"token": token}}],
            "contexts": [{"name": "token", "context": {"cluster": cluster["name"], "user": "token"}}],
            "current-context": "token",
        }
        path.write_text(yaml.safe_dump(token_config))
        path.chmod(0o600)
        return path

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 60, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; stdout/stderr captured as text."""
        return self._run("kubectl", args, input, timeout, check, self.env())

    def helm(self, *args: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run helm against this cluster, with its caches kept out of the user's home."""
        if self._helm_home is None:
            self._helm_home = Path(tempfile.mkdtemp(prefix="pandora-helm-"))
        env = self.env() | {
            f"HELM_{kind}_HOME": str(self._helm_home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")
        }
        return self._run("helm", args, None, timeout, check, env)

    def _run(
        self, name: str, args: tuple[str, ...], input: str | None, timeout: float, check: bool, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool(name), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            env=env,
        )

    @contextmanager
    def api_client(self) -> Iterator[Any]:
        """An ApiClient of the official `kubernetes` client, logged in as the cluster admin."""
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        with client.ApiClient(configuration) as api:
            yield api


def kind_unavailable_reason() -> str | None:
    """Why the kind backend cannot run here, or None when it can (pytest-kind drives kind, which needs Docker)."""
    try:
        import pytest_kind  # noqa: F401
    except ImportError:
        return "pytest-kind is not installed"
    if shutil.which("docker") is None:
        return "kind needs a Docker engine and there is no `docker` command"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"kind needs a Docker engine and `docker info` failed: {reason}"
    return None
