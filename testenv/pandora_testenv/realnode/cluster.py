"""`pandora-testenv up --real-node`: the bridge, the control plane listening on it, the real node, and (with
`dapr=True`) the Dapr control plane; `down` undoes it all in reverse."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from pandora_testenv.cluster import KubeCluster
from pandora_testenv.controlplane import ControlPlane
from pandora_testenv.controlplane import down as plane_down
from pandora_testenv.controlplane import up as plane_up
from pandora_testenv.kubeapi import AdminApi
from pandora_testenv.pki import Pki
from pandora_testenv.processes import StartError, any_running
from pandora_testenv.realnode.dapr import install_dapr
from pandora_testenv.realnode.host import GATEWAY, network_down, network_up
from pandora_testenv.realnode.images import Image, build_images
from pandora_testenv.realnode.node import APISERVER_ARGS, RealNode, missing_requirements, node_down, node_up


@dataclass
class RealNodeCluster:
    plane: ControlPlane
    node: RealNode
    cluster: KubeCluster
    dapr: bool
    # step -> seconds it took
    timings: dict[str, float] = field(default_factory=dict)
    # name -> image, when the caller built them (the pytest fixture does)
    images: dict[str, Image] = field(default_factory=dict)


def up_with_real_node(
    directory: Path, timeout: float = 180.0, tie_to_parent: bool = False, dapr: bool = False, echo=print
) -> RealNodeCluster:
    missing = missing_requirements()
    if missing:
        raise StartError(f"a real node needs: {', '.join(missing)}")
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if any_running(directory):
        raise StartError(f"{directory} already has running components; run `pandora-testenv down --dir {directory}`")
    timings: dict[str, float] = {}
    started = time.monotonic()
    # Cheap when cached (a hash of the inputs); the node imports every cached image, these are the ones it needs.
    build_images(["pause", *(["dapr"] if dapr else [])], echo=echo)
    timings["images"] = round(time.monotonic() - started, 1)
    network_up(directory / "node")
    try:
        step = time.monotonic()
        pki = Pki(directory / "pki")
        kubelet_client = ("--kubelet-client-certificate=" + str(pki.client_cert("apiserver-kubelet-client")),
                          "--kubelet-client-key=" + str(pki.client_key("apiserver-kubelet-client")))
        plane = plane_up(directory, timeout, tie_to_parent, apiserver_address=GATEWAY,
                         apiserver_args=(*APISERVER_ARGS, *kubelet_client))
        timings["control plane"] = round(time.monotonic() - step, 1)
        step = time.monotonic()
        api = AdminApi(plane.server, pki.ca_cert, pki.client_cert("admin"), pki.client_key("admin"))
        node = node_up(directory, api, timeout, tie_to_parent)
        timings["node Ready"] = round(time.monotonic() - step, 1)
        cluster = KubeCluster(plane.kubeconfig, "local", plane)
        if dapr:
            step = time.monotonic()
            install_dapr(cluster, timeout)
            timings["dapr control plane"] = round(time.monotonic() - step, 1)
    except BaseException:
        down_with_real_node(directory)
        raise
    timings["total"] = round(time.monotonic() - started, 1)
    return RealNodeCluster(plane, node, cluster, dapr, timings)


def has_real_node(directory: Path) -> bool:
    return (directory / "node").is_dir()


def down_with_real_node(directory: Path) -> None:
    directory = directory.resolve()
    kubeconfig = directory / "kubeconfig"
    apiserver_alive = (directory / "pids" / "kube-apiserver.pid").exists() and kubeconfig.exists()
    cluster = KubeCluster(kubeconfig, "local") if apiserver_alive else None
    node_down(directory, cluster.kubectl if cluster else None)
    plane_down(directory)
    network_down(directory / "node")
