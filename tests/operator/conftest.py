"""Fixtures for operator tests on the real control plane.

The operator runs as a subprocess (`pandora operator --namespace NS`) authenticated as the chart's
`pandora-operator` ServiceAccount, with the chart's RBAC applied: every lifecycle test is therefore also a test
that the operator's least-privilege permissions are enough.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from recording_helpers import CRD_FILE, apply_rbac, service_account_kubeconfig, wait_for

from pandora_testenv.cluster import KubeCluster


def fake_token() -> str:
    """Shaped like a Discord bot token, so log redaction and leak checks see a realistic value."""
    return f"MTA{secrets.token_urlsafe(21)[:21]}.{secrets.token_urlsafe(5)[:6]}.{secrets.token_urlsafe(30)[:38]}"


@pytest.fixture(scope="session")
def recording_crd(kube_cluster: KubeCluster) -> None:
    result = kube_cluster.kubectl("apply", "-f", str(CRD_FILE))
    assert result.returncode == 0, result.stderr
    waited = kube_cluster.kubectl(
        "wait", "--for=condition=Established", "crd/recordings.pandora.dev", "--timeout=60s"
    )
    assert waited.returncode == 0, waited.stderr


@dataclass
class BotPool:
    tokens: dict[str, str]


@pytest.fixture
def bot_pool_factory(kube_cluster: KubeCluster, namespace: str) -> Callable[..., BotPool]:
    def create(*names: str) -> BotPool:
        tokens = {name: fake_token() for name in names}
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pandora-bots", "namespace": namespace},
            "stringData": tokens,
        }
        result = kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        assert result.returncode == 0, result.stderr
        return BotPool(tokens)

    return create


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OperatorProcess:
    """`pandora operator` as a child process, logged in as the operator ServiceAccount."""

    def __init__(
        self,
        namespace: str,
        kubeconfig: Path,
        log_path: Path,
        cluster_wide: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.namespace = namespace
        self.cluster_wide = cluster_wide
        self.extra_env = env or {}
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        port = _free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PANDORA_RECORDER_IMAGE": "pandora-recorder:test",
            "PANDORA_STOP_GRACE_SECONDS": "5",
            "PANDORA_LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        env.pop("KUBERNETES_SERVICE_HOST", None)
        log = self.log_path.open("ab")
        self.starts += 1
        log.write(f"\n==== operator start {self.starts} ====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "pandora.cli", "operator",
                *(["--all-namespaces"] if self.cluster_wide else ["--namespace", self.namespace]),
                "--liveness", f"http://127.0.0.1:{port}/healthz",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"operator exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for("the operator's liveness endpoint", healthy, timeout=30)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, like a node dying under the operator."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def operator_factory(
    kube_cluster: KubeCluster, namespace: str, recording_crd: None, tmp_path: Path
) -> Iterator[Callable[..., OperatorProcess]]:
    started: list[OperatorProcess] = []

    def start(cluster_wide: bool = False, env: dict[str, str] | None = None) -> OperatorProcess:
        apply_rbac(kube_cluster, namespace, f"operator.clusterWide={str(cluster_wide).lower()}")
        kubeconfig = service_account_kubeconfig(
            kube_cluster, namespace, "pandora-operator", tmp_path / "operator.kubeconfig"
        )
        operator = OperatorProcess(namespace, kubeconfig, tmp_path / "operator.log", cluster_wide, env)
        operator.start()
        started.append(operator)
        return operator

    yield start
    for operator in started:
        operator.stop()
        _stop_recordings(kube_cluster, operator.namespace)
    for operator in started:
        # A handler that failed is a bug even when the test's own checks passed.
        assert "Traceback" not in operator.log(), operator.log()[-4000:]


def _stop_recordings(kube_cluster: KubeCluster, namespace: str) -> None:
    """Drop finalizers so the namespace can go away after the operator is stopped."""
    listing = kube_cluster.kubectl("get", "recordings", "-n", namespace, "-o", "name")
    for name in listing.stdout.split():
        kube_cluster.kubectl(
            "patch", "-n", namespace, name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
        )


@pytest.fixture
def operator(operator_factory: Callable[..., OperatorProcess]) -> OperatorProcess:
    return operator_factory()
