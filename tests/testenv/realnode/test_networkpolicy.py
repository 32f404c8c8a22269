"""The real node's NetworkPolicy firewall binary: kube-router's firewall built alone from our own main."""

from __future__ import annotations

import subprocess

import pytest

from pandora_testenv.cache import binary_path, missing_binaries


def test_the_built_kube_router_runs_its_firewall_only():
    if missing_binaries(["kube-router"]):
        pytest.skip("kube-router is not built: run `.venv/bin/pandora-testenv build kube-router`")
    # kube-router's own defaults run its BGP router and service proxy too: this build says they are not in it
    # (before it touches the host or needs an API server).
    result = subprocess.run([str(binary_path("kube-router")), "--kubeconfig=/nonexistent"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1
    assert "only the firewall is built in" in result.stderr, result.stderr
    flags = subprocess.run([str(binary_path("kube-router")), "--help"], capture_output=True, text=True, timeout=30)
    assert "--run-firewall" in flags.stdout + flags.stderr
