"""One real node beside the KWOK one: containerd (Debian's) + runc, the kubelet and kube-proxy from the pinned
kubernetes build, the bridge CNI plugin, kube-router's firewall enforcing NetworkPolicy (networkpolicy.py), and
cluster DNS; every process with a pid file under `DIR/pids`, every file under `DIR/node` except containerd's image
content, which stays in the cache (`<cache>/node/containerd`) so a new node does not import the images again.

Pods choose this node by node selector (`pandora.dev/node: real`); `prefer_real_node(namespace)` makes it the
default for a whole namespace (PodNodeSelector), which is how pods the operator creates land here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pandora_testenv.cache import binary_path, cache_root, missing_binaries
from pandora_testenv.controlplane import node_ready
from pandora_testenv.kubeapi import http_ok
from pandora_testenv.processes import StartError, start, stop_pid_file, wait_until
from pandora_testenv.realnode.buildah import files
from pandora_testenv.realnode.clusterdns import resolve
from pandora_testenv.realnode.host import BRIDGE, GATEWAY, POD_SUBNET, RANGE_START, unmount_under
from pandora_testenv.realnode.images import OWN_REPOSITORIES, Image, cached_images
from pandora_testenv.realnode.networkpolicy import missing_tools, start_firewall

NODE_NAME = "pandora-real-node"
NODE_LABEL = ("pandora.dev/node", "real")
NODE_SELECTOR_ANNOTATION = "scheduler.alpha.kubernetes.io/node-selector"
CGROUP_ROOT = "pandora-testenv"
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
HOST_TOOLS = (CONTAINERD, CTR, "/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local",
              "/usr/sbin/iptables", "/usr/bin/mount")
NODE_BINARIES = ["kubelet", "kube-proxy", "kube-router"]
# The API server flags a real node needs: reach kubelets by their InternalIP (the bridge address) with a client
# certificate the kubelet trusts; honour a namespace's default node selector.
APISERVER_ARGS = ("--kubelet-preferred-address-types=InternalIP",
                  "--enable-admission-plugins=PodNodeSelector")
# Stop order: nothing starts pods once the kubelet is gone; containerd after its containers. kube-router leaves
# its chains and ipsets when stopped: host.py removes them.
STOP_ORDER = ["kubelet", "kube-router", "kube-proxy", "cluster-dns"]


class NodeError(StartError):
    pass


def missing_requirements() -> list[str]:
    """What this machine lacks for a real node (empty: it can run one)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (namespaces, mounts, the bridge, iptables)")
    missing += [tool for tool in HOST_TOOLS if not Path(tool).exists()] + missing_tools()
    missing += [f"{name} (pandora-testenv build)" for name in missing_binaries(NODE_BINARIES)]
    return missing


def containerd_root() -> Path:
    return cache_root() / "node" / "containerd"


@dataclass
class RealNode:
    directory: Path  # the control plane's directory; node files under directory / "node"
    name: str = NODE_NAME

    @property
    def node_dir(self) -> Path:
        return self.directory / "node"

    @property
    def socket(self) -> Path:
        return self.node_dir / "containerd.sock"

    @property
    def selector(self) -> dict[str, str]:
        return dict([NODE_LABEL])

    def ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([CTR, "--address", str(self.socket), "-n", "k8s.io", *args],
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise NodeError(f"ctr {' '.join(args)}: {result.stderr.strip()}")
        return result


def _render(template: str, node: RealNode, **values: str) -> str:
    text = files(template)
    substitutions = {"NODE_DIR": str(node.node_dir), "GATEWAY": GATEWAY, "POD_SUBNET": POD_SUBNET,
                     "RANGE_START": RANGE_START, "BRIDGE": BRIDGE, "NODE_NAME": node.name,
                     "CGROUP_ROOT": CGROUP_ROOT, "CONTAINERD_ROOT": str(containerd_root()), **values}
    for key, value in substitutions.items():
        text = text.replace(f"@{key}@", value)
    return text


def node_up(directory: Path, api, timeout: float = 120.0, tie_to_parent: bool = False) -> RealNode:
    """Start containerd, import the cached images, start cluster DNS, the kubelet, kube-proxy and the NetworkPolicy
    firewall; return when the node is Ready and the firewall has synced. `api` is the control plane's AdminApi.
    The bridge and the control plane must be up."""
    node = RealNode(directory)
    node.node_dir.mkdir(parents=True, exist_ok=True)
    (node.node_dir / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
    containerd_root().mkdir(parents=True, exist_ok=True)
    images = {image.name: image for image in cached_images()}
    if "pause" not in images:
        raise NodeError("no pause image: run `pandora-testenv images pause` (or all images) first")
    options: dict[str, Any] = {"run_dir": directory, "tie_to_parent": tie_to_parent}

    (node.node_dir / "containerd.toml").write_text(_render("containerd.toml", node, PAUSE_IMAGE=images["pause"].ref))
    (node.node_dir / "cni" / "net.d" / "10-pandora-testenv.conflist").write_text(_render("bridge.conflist", node))
    containerd = start("containerd", [CONTAINERD, "--config", str(node.node_dir / "containerd.toml")], **options)
    wait_until(containerd, lambda: node.ctr("version", check=False).returncode == 0, timeout, "answering")
    import_into(directory, list(images.values()))

    dns = start("cluster-dns", [sys.executable, "-m", "pandora_testenv.realnode.clusterdns",
                                f"--kubeconfig={directory / 'kubeconfig'}", f"--listen={GATEWAY}"], **options)
    wait_until(dns, lambda: resolve("kubernetes.default.svc.cluster.local", GATEWAY) == ["10.0.0.1"], timeout,
               "answering")

    make_cgroup_root()
    (node.node_dir / "kubelet-config.yaml").write_text(
        _render("kubelet-config.yaml", node, CA_FILE=str(directory / "pki" / "ca.crt")))
    kubelet = start("kubelet", [
        str(binary_path("kubelet")),
        f"--config={node.node_dir / 'kubelet-config.yaml'}",
        f"--kubeconfig={directory / 'kubelet.kubeconfig'}",
        f"--hostname-override={node.name}",
        f"--node-ip={GATEWAY}",
        f"--node-labels={'='.join(NODE_LABEL)}",
        f"--root-dir={node.node_dir / 'kubelet'}",
        f"--cert-dir={node.node_dir / 'kubelet-pki'}",
        "--v=1",
    ], **options)
    wait_until(kubelet, lambda: node_ready(api, node.name), timeout, "Ready")

    (node.node_dir / "kube-proxy-config.yaml").write_text(
        _render("kube-proxy-config.yaml", node, KUBECONFIG=str(directory / "kube-proxy.kubeconfig")))
    proxy = start("kube-proxy", [str(binary_path("kube-proxy")),
                                 f"--config={node.node_dir / 'kube-proxy-config.yaml'}", "--v=1"], **options)
    wait_until(proxy, lambda: http_ok("http://127.0.0.1:10256/healthz"), timeout, "syncing Services")
    firewall = start_firewall(directory, node.name, api, timeout, tie_to_parent=tie_to_parent)
    for process in (containerd, dns, kubelet, proxy, firewall):
        if not process.alive():
            raise process.fail("exited")
    return node


def import_into(directory: Path, images: list[Image]) -> list[str]:
    """Import images into the node's containerd unless this archive was imported before; returns the refs
    imported now. The marker is kept next to containerd's (cached) content."""
    node = RealNode(directory)
    if not node.socket.exists():
        raise NodeError(f"no real node running under {directory}")
    markers = containerd_root().parent / "imported"
    markers.mkdir(parents=True, exist_ok=True)
    targets = _image_targets(node)
    present = set(targets)
    # Earlier builds of our images (containerd's content is kept between nodes), with the `sha256:<id>` names the
    # CRI plugin gives every image: once no name is left, containerd frees their layers.
    current = {image.ref for image in cached_images()} | {image.ref for image in images}
    stale = {ref for ref in present if ref.startswith(OWN_REPOSITORIES) and ref not in current}
    kept = {targets[ref] for ref in present - stale if not ref.startswith("sha256:")}
    stale |= {ref for ref in present if ref.startswith("sha256:") and targets[ref] not in kept}
    if stale:
        node.ctr("images", "rm", *sorted(stale), check=False)
    imported = []
    for image in images:
        marker = markers / image.archive.name
        if image.ref in present and marker.exists():
            continue
        node.ctr("images", "import", "--all-platforms", str(image.archive))
        marker.touch()
        imported.append(image.ref)
    return imported


def _image_targets(node: RealNode) -> dict[str, str]:
    """Image name -> manifest digest it points to, as containerd lists them."""
    lines = node.ctr("images", "ls").stdout.splitlines()[1:]
    return {fields[0]: fields[2] for fields in (line.split() for line in lines) if len(fields) > 2}


def prefer_real_node(kubectl, namespace: str) -> None:
    """Every pod created in `namespace` from now on runs on the real node (PodNodeSelector admission)."""
    kubectl("annotate", "namespace", namespace, "--overwrite",
            f"{NODE_SELECTOR_ANNOTATION}={'='.join(NODE_LABEL)}", check=True)


def node_down(directory: Path, kubectl=None, timeout: float = 60.0) -> None:
    """Stop the node: its pods (through the API, so volumes are unmounted and pod networks removed), the
    kubelet, kube-proxy (and its iptables rules), DNS, leftover containers, containerd; then its mounts and
    cgroups. Idempotent."""
    node = RealNode(directory)
    pids = directory / "pids"
    kubelet_pid = pids / "kubelet.pid"
    if kubectl is not None and kubelet_pid.exists():
        # Cordon first: controllers would otherwise schedule replacements onto the node as its pods go.
        kubectl("cordon", node.name)
        kubectl("delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={node.name}",
                "--wait=true", f"--timeout={int(timeout)}s", timeout=timeout + 15)
    ran_proxy = (pids / "kube-proxy.pid").exists()
    for name in STOP_ORDER:
        stop_pid_file(pids / f"{name}.pid")
    if ran_proxy:
        # Its iptables rules outlive it; --cleanup removes them (host.py then removes any chain still left).
        subprocess.run([str(binary_path("kube-proxy")), "--cleanup"], capture_output=True, timeout=60)
    if node.socket.exists() and (pids / "containerd.pid").exists():
        _remove_containers(node)
    stop_pid_file(pids / "containerd.pid")
    unmount_under(node.node_dir)
    remove_cgroups()


def _remove_containers(node: RealNode) -> None:
    """Containers outlive containerd (their shims keep running): kill and delete any the kubelet left."""
    tasks = node.ctr("tasks", "ls", "-q", check=False).stdout.split()
    for task in tasks:
        node.ctr("tasks", "kill", "-s", "SIGKILL", task, check=False)
    deadline = time.monotonic() + 10
    for task in tasks:
        while node.ctr("tasks", "delete", "-f", task, check=False).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    for container in node.ctr("containers", "ls", "-q", check=False).stdout.split():
        node.ctr("containers", "delete", container, check=False)


def _hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy (each v1 controller, the named systemd one, the unified v2 one)."""
    mounted = {line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
               if line.split()[2] in ("cgroup", "cgroup2")}
    return [Path(path) for path in sorted(mounted)]


def make_cgroup_root() -> None:
    """The kubelet wants its cgroup root to exist in every hierarchy; a new cpuset group starts with no CPUs or
    memory nodes, so it gets its parent's."""
    for hierarchy in _hierarchies():
        root = hierarchy / CGROUP_ROOT
        root.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (root / name).exists() and not (root / name).read_text().strip():
                (root / name).write_text((hierarchy / name).read_text())


def remove_cgroups() -> None:
    """The node's cgroup root in every hierarchy (cgroup v1 controllers and the unified v2 one), deepest first."""
    for root in (hierarchy / CGROUP_ROOT for hierarchy in _hierarchies()):
        if not root.is_dir():
            continue
        for group in sorted((path for path in root.rglob("*") if path.is_dir()), key=lambda p: len(p.parts),
                            reverse=True):
            _rmdir(group)
        _rmdir(root)


def _rmdir(path: Path) -> None:
    with contextlib.suppress(OSError):  # still in use, or not empty: not ours to force
        path.rmdir()
