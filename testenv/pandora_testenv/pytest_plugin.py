"""pytest fixtures for a real cluster, Redis, an S3 server and daprd (enabled in tests/conftest.py).

Cluster backend, first that applies: PANDORA_TEST_KUBECONFIG (any cluster), kind through pytest-kind where Docker
runs, else the local control plane built by `pandora-testenv build` (tests skip, saying so, when it is not built).
PANDORA_TEST_BACKEND=kind|local picks one of the last two explicitly (kind then skips, saying why, without Docker).

Real pods: `real_cluster` is a second local control plane with a real node (containerd, kubelet, kube-proxy) and
Dapr's control plane, running the images `pandora-testenv images` builds; `real_namespace` is a namespace whose
pods run on it; `bridge_redis` and `bridge_s3` listen where pods reach them. They need root (tests skip without).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pandora_testenv.cache import missing_binaries
from pandora_testenv.cluster import KUBECONFIG_ENV, KubeCluster, kind_unavailable_reason
from pandora_testenv.controlplane import CONTROL_PLANE_BINARIES, down, up
from pandora_testenv.processes import stop
from pandora_testenv.realnode.cluster import RealNodeCluster
from pandora_testenv.services import (
    Daprd,
    RedisServer,
    S3Server,
    render_components,
    start_daprd,
    start_redis,
    start_s3,
)

BACKEND_ENV = "PANDORA_TEST_BACKEND"
CLUSTER_FIXTURES = {"kube_cluster", "namespace"}
DAPR_FIXTURES = {"daprd", "daprd_factory", "dapr_env"}
REAL_NODE_FIXTURES = {"real_cluster", "real_namespace", "bridge_redis", "bridge_s3"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Mark by fixture use, so `-m "not cluster"` / `-m "not dapr"` select correctly without per-test markers.
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & CLUSTER_FIXTURES:
            item.add_marker(pytest.mark.cluster)
        if names & DAPR_FIXTURES:
            item.add_marker(pytest.mark.dapr)
        if names & REAL_NODE_FIXTURES:
            item.add_marker(pytest.mark.realnode)


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """A cluster for the whole session; admin access through `.kubeconfig`, `.kubectl()`, `.api_client()`."""
    named = os.environ.get(KUBECONFIG_ENV)
    if named:
        yield KubeCluster(Path(named), "kubeconfig")
        return
    backend = os.environ.get(BACKEND_ENV, "")
    if backend not in ("", "kind", "local"):
        raise pytest.UsageError(f"{BACKEND_ENV}={backend!r}: use kind or local")
    kind_reason = kind_unavailable_reason() if backend != "local" else "not chosen"
    if backend == "kind" and kind_reason:
        pytest.skip(f"{BACKEND_ENV}=kind: {kind_reason}")
    if kind_reason is None:
        yield from kind_cluster()
        return
    missing = missing_binaries(CONTROL_PLANE_BINARIES)
    if missing:
        pytest.skip(
            f"no cluster: {KUBECONFIG_ENV} unset, no kind/Docker, and the local control plane is not built "
            f"({', '.join(missing)} missing): run `.venv/bin/pandora-testenv build`"
        )
    directory = tmp_path_factory.mktemp("controlplane")
    plane = up(directory, tie_to_parent=True)
    try:
        yield KubeCluster(plane.kubeconfig, "local", plane)
    finally:
        down(directory)


def kind_cluster() -> Iterator[KubeCluster]:
    """A kind cluster made and removed by pytest-kind (which fetches its own kind binary)."""
    from pytest_kind import KindCluster

    kind = KindCluster("pandora-tests")
    kind.create()
    try:
        yield KubeCluster(Path(kind.kubeconfig_path), "kind")
    finally:
        kind.delete()


def _namespace_name(node_name: str) -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", node_name.lower()).strip("-")[:40].strip("-")
    return f"{stem}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(kube_cluster: KubeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test; deleted afterwards (without waiting for it to finish)."""
    name = _namespace_name(request.node.name)
    kube_cluster.kubectl("create", "namespace", name, check=True)
    yield name
    kube_cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture(scope="session")
def testenv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run directory (logs, pid files, data) of the session's services."""
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def redis_server(testenv_dir: Path) -> Iterator[RedisServer]:
    """Debian's redis-server on a free port, data in a temporary directory."""
    server = start_redis(testenv_dir)
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def s3_server(testenv_dir: Path) -> Iterator[S3Server]:
    """moto's S3 server on a free port with the bucket `pandora-test` created."""
    server = start_s3(testenv_dir)
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def dapr_components(testenv_dir: Path, redis_server: RedisServer, s3_server: S3Server) -> Path:
    """components/ rendered against the session's Redis and S3 server (localstorage under the run dir)."""
    return render_components(testenv_dir / "components", redis_server, s3_server, testenv_dir / "objects")


def _require_daprd() -> None:
    missing = missing_binaries(["daprd"])
    if missing:
        pytest.skip("daprd is not built: run `.venv/bin/pandora-testenv build`")


@pytest.fixture(scope="session")
def daprd(testenv_dir: Path, dapr_components: Path) -> Iterator[Daprd]:
    """One daprd (app id `pandora-test`, no app) for the session, running our components."""
    _require_daprd()
    sidecar = start_daprd(testenv_dir, dapr_components)
    yield sidecar
    sidecar.stop()


@pytest.fixture
def dapr_env(daprd: Daprd, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the Dapr Python SDK (DaprClient()) at the session daprd for this test."""
    env = daprd.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def daprd_factory(testenv_dir: Path, dapr_components: Path) -> Iterator[Callable[..., Daprd]]:
    """`daprd_factory(app_id, app_port=None, app_protocol="http", wait_for_app=True, extra_args=())` starts a
    sidecar for an app (see `start_daprd`); stopped after."""
    _require_daprd()
    started: list[Daprd] = []

    def factory(app_id: str, app_port: int | None = None, app_protocol: str = "http", *, wait_for_app: bool = True,
                extra_args: tuple[str, ...] = ()) -> Daprd:
        sidecar = start_daprd(testenv_dir, dapr_components, app_id, app_port, app_protocol,
                              wait_for_app=wait_for_app, extra_args=extra_args)
        started.append(sidecar)
        return sidecar

    yield factory
    for sidecar in started:
        sidecar.stop()


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNodeCluster]:
    """Control plane + real node + Dapr control plane for the session; `.cluster` (a KubeCluster), `.images`."""
    from pandora_testenv.realnode.cluster import down_with_real_node, up_with_real_node
    from pandora_testenv.realnode.host import real_node_turn
    from pandora_testenv.realnode.images import build_images
    from pandora_testenv.realnode.node import missing_requirements

    missing = missing_requirements() + missing_binaries([*CONTROL_PLANE_BINARIES, "helm", "daprd"])
    if missing:
        pytest.skip(f"no real node here: missing {', '.join(missing)} (scripts/setup as root provides them)")
    with real_node_turn():
        images = build_images()
        directory = tmp_path_factory.mktemp("realnode")
        real = up_with_real_node(directory, tie_to_parent=True, dapr=True)
        real.images = images
        try:
            yield real
        finally:
            down_with_real_node(directory)


@pytest.fixture
def real_namespace(real_cluster: RealNodeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace on the real cluster whose pods all run on the real node."""
    from pandora_testenv.realnode.node import prefer_real_node

    name = _namespace_name(request.node.name)
    real_cluster.cluster.kubectl("create", "namespace", name, check=True)
    prefer_real_node(real_cluster.cluster.kubectl, name)
    yield name
    real_cluster.cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture(scope="session")
def bridge_redis(real_cluster: RealNodeCluster, testenv_dir: Path) -> Iterator[RedisServer]:
    """Redis on the real node's bridge address: reachable from pods and from the host."""
    from pandora_testenv.realnode.host import GATEWAY

    server = start_redis(testenv_dir, host=GATEWAY)
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def bridge_s3(real_cluster: RealNodeCluster, testenv_dir: Path) -> Iterator[S3Server]:
    """moto's S3 server on the real node's bridge address, bucket `pandora-test` created."""
    from pandora_testenv.realnode.host import GATEWAY

    server = start_s3(testenv_dir, host=GATEWAY)
    yield server
    stop(server.process)
