"""`up` and `down` of the local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
kwok with one fake node, every process on 127.0.0.1 with free ports, state under one directory."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pandora_testenv.cache import binary_path, missing_binaries
from pandora_testenv.kubeapi import AdminApi, http_ok, https_ok, write_kubeconfig
from pandora_testenv.pki import CLIENTS, create_pki
from pandora_testenv.processes import (
    ManagedProcess,
    StartError,
    any_running,
    start,
    start_listening,
    stop_all,
    stop_pid_file,
    wait_until,
)

CONTROL_PLANE_BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"]
# Stop order: the clients first, the store last.
STOP_ORDER = ["kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
NODE_NAME = "pandora-fake-node"
# kwok manages only nodes carrying this annotation, so a real node (kind, a shared cluster) is never touched.
NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
SERVICE_CIDR = "10.0.0.0/24"
STATE_FILE = "state.json"


class MissingBinaries(RuntimeError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(
            f"control-plane binaries not built: {', '.join(names)}; run `.venv/bin/pandora-testenv build`"
        )
        self.names = names


@dataclass
class ControlPlane:
    directory: Path
    kubeconfig: Path
    server: str
    ports: dict[str, int]

    def to_json(self) -> str:
        data = asdict(self) | {"directory": str(self.directory), "kubeconfig": str(self.kubeconfig)}
        return json.dumps(data, indent=2) + "\n"


def _bin(name: str) -> str:
    return str(binary_path(name))


def _node_manifest() -> dict:
    key, value = NODE_ANNOTATION
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
    }


def node_ready(api: AdminApi, name: str = NODE_NAME) -> bool:
    status, node = api.get(f"/api/v1/nodes/{name}")
    if status != 200:
        return False
    conditions = node.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def up(
    directory: Path,
    timeout: float = 120.0,
    tie_to_parent: bool = False,
    apiserver_address: str = "127.0.0.1",
    apiserver_args: tuple[str, ...] = (),
) -> ControlPlane:
    """Start everything, wait until the API is ready, the node is Ready and service accounts exist.

    `tie_to_parent` (tests) kills the components when the calling process dies; the CLI leaves them running.
    `apiserver_address` is where the API server listens and what it advertises (the real node's bridge address,
    so pods reach it through the `kubernetes` Service); `apiserver_args` are added to its flags."""
    missing = missing_binaries(CONTROL_PLANE_BINARIES)
    if missing:
        raise MissingBinaries(missing)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if any_running(directory):
        raise StartError(f"{directory} already has running components; run `pandora-testenv down --dir {directory}`")
    # Pid files of processes that are gone (a killed machine or session): nothing to stop, just forget them.
    for stale in (directory / "pids").glob("*.pid"):
        stale.unlink()
    try:
        return _start_all(directory, timeout, tie_to_parent, apiserver_address, apiserver_args)
    except BaseException:
        down(directory)
        raise


def _start_all(
    directory: Path, timeout: float, tie_to_parent: bool, address: str, extra_apiserver_args: tuple[str, ...]
) -> ControlPlane:
    pki = create_pki(directory / "pki")
    options: dict[str, Any] = {"run_dir": directory, "timeout": timeout, "tie_to_parent": tie_to_parent}
    ports: dict[str, int] = {}

    def etcd_args(etcd_ports: list[int]) -> list[str]:
        client_url, peer_url = (f"http://127.0.0.1:{port}" for port in etcd_ports)
        return [
            _bin("etcd"),
            "--name=pandora",
            f"--data-dir={directory / 'etcd'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=pandora={peer_url}",
            # Test data: durability is not worth an fsync per write.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    etcd, (ports["etcd"], ports["etcd-peer"]) = start_listening(
        "etcd", etcd_args, 2, lambda p: http_ok(f"http://127.0.0.1:{p[0]}/health"), **options
    )

    def admin_api(port: int) -> AdminApi:
        return AdminApi(f"https://{address}:{port}", pki.ca_cert, pki.client_cert("admin"), pki.client_key("admin"))

    def apiserver_args(apiserver_ports: list[int]) -> list[str]:
        return [
            _bin("kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
            f"--bind-address={address}",
            f"--advertise-address={address}",
            f"--secure-port={apiserver_ports[0]}",
            f"--cert-dir={directory / 'pki'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            # The default reconciler refuses a loopback advertise address, and only pods (on a real node) need the
            # `kubernetes` Service's endpoints.
            f"--endpoint-reconciler-type={'none' if address.startswith('127.') else 'lease'}",
            # Without a node-lifecycle controller the not-ready taint this plugin adds would never go away.
            "--disable-admission-plugins=TaintNodesByCondition",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--v=1",
            *extra_apiserver_args,
        ]

    apiserver, (ports["apiserver"],) = start_listening(
        "kube-apiserver", apiserver_args, 1, lambda p: admin_api(p[0]).get("/readyz")[0] == 200, **options
    )
    api = admin_api(ports["apiserver"])
    server = api.server
    kubeconfig = directory / "kubeconfig"
    kubeconfigs = {}
    for client, (user, _groups) in CLIENTS.items():
        path = kubeconfig if client == "admin" else directory / f"{client}.kubeconfig"
        write_kubeconfig(path, server, pki.ca_cert, pki.client_cert(client), pki.client_key(client), user)
        kubeconfigs[client] = str(path)

    def https_healthz(p: list[int]) -> bool:
        return https_ok(f"https://127.0.0.1:{p[0]}/healthz")

    def controller_manager_args(cm_ports: list[int]) -> list[str]:
        return [
            _bin("kube-controller-manager"),
            f"--kubeconfig={kubeconfigs['controller-manager']}",
            f"--authentication-kubeconfig={kubeconfigs['controller-manager']}",
            f"--authorization-kubeconfig={kubeconfigs['controller-manager']}",
            "--bind-address=127.0.0.1",
            f"--secure-port={cm_ports[0]}",
            f"--cert-dir={directory / 'controller-manager-certs'}",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=true",
            # kwok's node never heartbeats after it is Ready; node lifecycle would evict its pods.
            "--controllers=*,-node-lifecycle-controller",
            "--leader-elect=false",
            "--v=1",
        ]

    controller_manager, (ports["controller-manager"],) = start_listening(
        "kube-controller-manager", controller_manager_args, 1, https_healthz, **options
    )

    def scheduler_args(scheduler_ports: list[int]) -> list[str]:
        return [
            _bin("kube-scheduler"),
            f"--kubeconfig={kubeconfigs['scheduler']}",
            f"--authentication-kubeconfig={kubeconfigs['scheduler']}",
            f"--authorization-kubeconfig={kubeconfigs['scheduler']}",
            "--bind-address=127.0.0.1",
            f"--secure-port={scheduler_ports[0]}",
            f"--cert-dir={directory / 'scheduler-certs'}",
            "--leader-elect=false",
            "--v=1",
        ]

    scheduler, (ports["scheduler"],) = start_listening(
        "kube-scheduler", scheduler_args, 1, https_healthz, **options
    )

    stages = directory / "kwok-stages.yaml"
    stages.write_text(resources.files("pandora_testenv").joinpath("kwok-stages.yaml").read_text())

    def kwok_args(kwok_ports: list[int]) -> list[str]:
        return [
            _bin("kwok"),
            f"--kubeconfig={kubeconfig}",
            f"--config={stages}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={'='.join(NODE_ANNOTATION)}",
            "--node-ip=127.0.0.1",
            "--cidr=10.244.0.0/16",
            f"--server-address=127.0.0.1:{kwok_ports[0]}",
        ]

    kwok, (ports["kwok"],) = start_listening(
        "kwok", kwok_args, 1, lambda p: http_ok(f"http://127.0.0.1:{p[0]}/healthz"), **options
    )

    status, body = api.post("/api/v1/nodes", _node_manifest())
    if status not in (201, 409):
        raise StartError(f"creating node {NODE_NAME} failed: {status} {body}")
    wait_until(kwok, lambda: node_ready(api), timeout, f"marking node {NODE_NAME} Ready")
    wait_until(
        controller_manager,
        lambda: api.get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
        timeout,
        "creating the default service account",
    )
    _check_alive([etcd, apiserver, controller_manager, scheduler, kwok])
    plane = ControlPlane(directory, kubeconfig, server, ports)
    (directory / STATE_FILE).write_text(plane.to_json())
    return plane


def _check_alive(processes: list[ManagedProcess]) -> None:
    for process in processes:
        if not process.alive():
            raise process.fail("exited")


def down(directory: Path, timeout: float = 15.0) -> None:
    """Stop every process `up` started under `directory` (by pid file and process group)."""
    stop_all(directory.resolve(), STOP_ORDER, timeout)
    (directory / STATE_FILE).unlink(missing_ok=True)



def restart_apiserver(
    plane: ControlPlane, down_seconds: float = 0.0, timeout: float = 120.0, tie_to_parent: bool = False
) -> float:
    """Stop the API server (SIGTERM), keep it down `down_seconds`, start it again with the same flags on the same
    port, and wait until it is ready; how long clients had no API server. etcd, and so every object, stays."""
    pid_file = plane.directory / "pids" / "kube-apiserver.pid"
    pid = int(pid_file.read_text().split()[0])
    args = [arg.decode() for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if arg]
    stopped = time.monotonic()
    stop_pid_file(pid_file)
    time.sleep(down_seconds)
    pki = create_pki(plane.directory / "pki")
    api = AdminApi(plane.server, pki.ca_cert, pki.client_cert("admin"), pki.client_key("admin"))
    process = start("kube-apiserver", args, plane.directory, tie_to_parent=tie_to_parent)
    wait_until(process, lambda: api.get("/readyz")[0] == 200, timeout, "ready")
    return time.monotonic() - stopped
