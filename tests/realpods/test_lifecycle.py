"""`pandora-testenv up --real-node` and `down` as a developer runs them: a Ready real node beside the KWOK one,
and afterwards a host exactly as before (processes, mounts, cgroups, bridge, iptables, ipsets, ip_forward).

Runs first in this folder (file order): it needs the machine's one real node slot, which the session's
`real_cluster` holds from its first use to the end of the run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from host_state import differences, host_state

from pandora_testenv.cache import binary_path, missing_binaries
from pandora_testenv.controlplane import CONTROL_PLANE_BINARIES, NODE_NAME
from pandora_testenv.polling import wait_for
from pandora_testenv.processes import processes_mentioning
from pandora_testenv.realnode.host import bridge_exists, real_node_turn
from pandora_testenv.realnode.images import build_images
from pandora_testenv.realnode.node import NODE_LABEL, missing_requirements
from pandora_testenv.realnode.node import NODE_NAME as REAL_NODE_NAME

CLI = [sys.executable, "-m", "pandora_testenv.cli"]


# Selects the pod below: the node's firewall makes chains and ipsets for it, which `down` must remove.
POLICY = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "sleeper-ingress"},
    "spec": {"podSelector": {"matchLabels": {"app": "sleeper"}}, "policyTypes": ["Ingress"],
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]},
}


def running_pod() -> dict:
    pause = build_images(["pause"])["pause"].ref
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper", "labels": {"app": "sleeper"}},
        "spec": {
            "nodeSelector": dict([NODE_LABEL]),
            "containers": [{"name": "sleep", "image": pause, "imagePullPolicy": "Never",
                            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        },
    }


@pytest.mark.timeout(400)
def test_up_real_node_then_down_leaves_the_host_as_it_was(tmp_path: Path):
    missing = missing_requirements() + missing_binaries(CONTROL_PLANE_BINARIES)
    if missing:
        pytest.skip(f"no real node here: missing {', '.join(missing)}")
    # Another session's node (or its image builds) would change the host under this comparison: wait for our turn.
    with real_node_turn():
        if bridge_exists():
            pytest.fail("a real node is already up (the session's real_cluster started before this test?)")
        _up_and_down(tmp_path)


def _up_and_down(tmp_path: Path) -> None:
    before = host_state()
    directory = tmp_path / "plane"
    started = time.monotonic()
    up = subprocess.run([*CLI, "up", "--dir", str(directory), "--real-node"], capture_output=True, text=True,
                        timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"up --real-node: {time.monotonic() - started:.1f} s; {up.stdout.strip()}")
        nodes = subprocess.run(
            [str(binary_path("kubectl")), f"--kubeconfig={directory / 'kubeconfig'}", "get", "nodes",
             "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status} {end}"],
            capture_output=True, text=True, timeout=30,
        )
        assert sorted(nodes.stdout.split()) == sorted([f"{NODE_NAME}=True", f"{REAL_NODE_NAME}=True"])
        # A pod still running at `down`, with a pod network, volumes (an emptyDir, the token), a log link, and
        # a NetworkPolicy the node enforces.
        kubectl = [str(binary_path("kubectl")), f"--kubeconfig={directory / 'kubeconfig'}"]
        for manifest in (running_pod(), POLICY):
            subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(manifest), text=True, check=True,
                           capture_output=True, timeout=30)
        waited = subprocess.run([*kubectl, "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=60s"],
                                capture_output=True, text=True, timeout=90)
        assert waited.returncode == 0, waited.stderr
        wait_for("the firewall's ipsets for the policy", lambda: host_state()["ipsets"] != before["ipsets"])
    finally:
        down = subprocess.run([*CLI, "down", "--dir", str(directory)], capture_output=True, text=True, timeout=180)
    assert down.returncode == 0, down.stdout + down.stderr
    time.sleep(0.5)  # exited children are reaped by init a moment later
    assert processes_mentioning(str(directory)) == []
    assert differences(before, host_state()) == {}
