"""NetworkPolicy enforced on the real node: kube-router with only its firewall, as a host process.

The bridge CNI plugin stores policies and enforces none. kube-router's firewall (built alone from our own main,
files/kube-router-firewall.go, without its BGP router and service proxy) turns every policy that selects a pod on
this node into iptables chains matching the pod's address, with ipsets for the peers; kube-proxy keeps the
Services. It needs `ipset` and the iptables match extensions (set, physdev, addrtype, conntrack), which this
kernel has. kube-network-policies (what kind uses) would be smaller, but it hands each new connection to user space
with the nftables `queue` expression, and these kernels are built without it (CONFIG_NFT_QUEUE unset: `nft add
rule ... queue` fails with "No such file or directory").

Like any NetworkPolicy plugin it lets a pod's own node reach the pod; in kube-router's case also any pod reach
the node's addresses on the NodePort range (30000-32767), whatever the policies say.

Its chains (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*) go with the other chains `up` did not find on the host;
its ipsets are destroyed by host.py the same way (those that were not there before `up`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from pandora_testenv.cache import binary_path
from pandora_testenv.controlplane import SERVICE_CIDR
from pandora_testenv.kubeapi import AdminApi, http_ok
from pandora_testenv.processes import ManagedProcess, StartError, start_listening

BINARY = "kube-router"
IPSET = "/usr/sbin/ipset"
# What the firewall reads: its node (for the node's address), pods, namespaces and policies.
USER = "pandora-testenv:kube-router"
RULES = [
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["list", "watch"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["list", "watch"]},
]
# The firewall's top-level chain, jumped to from FORWARD once its first sync began.
FORWARD_CHAIN = "KUBE-ROUTER-FORWARD"


def missing_tools() -> list[str]:
    return [] if Path(IPSET).exists() or shutil.which("ipset") else [IPSET]


def grant_access(api: AdminApi) -> None:
    """A ClusterRole with exactly what the firewall reads, bound to its client certificate's user."""
    name = "pandora-testenv-kube-router"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
            "rules": RULES}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]}
    for path, body in (("/apis/rbac.authorization.k8s.io/v1/clusterroles", role),
                       ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)):
        status, answer = api.post(path, body)
        if status not in (201, 409):
            raise StartError(f"creating {body['kind']} {name}: HTTP {status}: {answer}")


def start_firewall(directory: Path, node_name: str, api: AdminApi, timeout: float,
                   **options: Any) -> ManagedProcess:
    """Start kube-router's firewall for `node_name`; return once it is healthy and has hooked its chains into
    FORWARD (pods and policies that come later are synced as they come)."""
    grant_access(api)

    def ready(ports: list[int]) -> bool:
        forward = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
        return http_ok(f"http://127.0.0.1:{ports[0]}/healthz") and f"-j {FORWARD_CHAIN}" in forward

    def args(ports: list[int]) -> list[str]:
        return [
            str(binary_path(BINARY)),
            f"--kubeconfig={directory / 'kube-router.kubeconfig'}",
            f"--hostname-override={node_name}",
            "--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--health-port={ports[0]}",
            "--v=1",
        ]

    process, _ports = start_listening("kube-router", args, 1, ready, run_dir=directory, timeout=timeout, **options)
    return process
