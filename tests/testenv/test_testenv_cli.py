"""The pandora-testenv command as scripts/setup and a developer use it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pandora_testenv.build import wrapper_gomod
from pandora_testenv.cache import binary_path, missing_binaries
from pandora_testenv.controlplane import CONTROL_PLANE_BINARIES, NODE_NAME
from pandora_testenv.processes import processes_mentioning
from pandora_testenv.versions import COMPONENTS

CLI = [sys.executable, "-m", "pandora_testenv.cli"]


def test_wrapper_gomod_pins_local_replaces_to_published_versions():
    upstream = {
        "Go": "1.26.0",
        "Require": [
            {"Path": "k8s.io/api", "Version": "v0.0.0"},
            {"Path": "golang.org/x/net", "Version": "v0.61.0"},
        ],
        "Replace": [
            {"Old": {"Path": "k8s.io/api"}, "New": {"Path": "./staging/src/k8s.io/api"}},
            {"Old": {"Path": "k8s.io/unused"}, "New": {"Path": "./FORBIDDEN_DEPENDENCY"}},
            {
                "Old": {"Path": "example.com/fork", "Version": "v1.0.0"},
                "New": {"Path": "example.com/x", "Version": "v1.0.1"},
            },
        ],
    }
    text = wrapper_gomod(COMPONENTS["kubernetes"], upstream)
    assert "\tk8s.io/kubernetes v1.37.2\n" in text
    assert "\tk8s.io/api => k8s.io/api v0.37.2\n" in text
    assert "\texample.com/fork v1.0.0 => example.com/x v1.0.1\n" in text
    assert "FORBIDDEN_DEPENDENCY" not in text and "k8s.io/unused" not in text
    assert "\ngo 1.26.0\n" in text


def test_build_reuses_cache_quickly():
    missing = missing_binaries()
    if missing:
        pytest.skip(f"not built yet ({', '.join(missing)}); this test checks the warm path of `build`")
    started = time.monotonic()
    result = subprocess.run([*CLI, "build"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": cached ->") == len(COMPONENTS)
    assert time.monotonic() - started < 10


def test_up_down_leaves_no_process_behind(tmp_path: Path):
    missing = missing_binaries(CONTROL_PLANE_BINARIES)
    if missing:
        pytest.skip(f"control plane not built ({', '.join(missing)}): run `.venv/bin/pandora-testenv build`")
    directory = tmp_path / "plane"
    started = subprocess.run([*CLI, "up", "--dir", str(directory)], capture_output=True, text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stderr
        assert f"export KUBECONFIG={directory}/kubeconfig" in started.stdout
        pids = [int(p.read_text().split()[0]) for p in (directory / "pids").glob("*.pid")]
        assert len(pids) == 5
        nodes = subprocess.run(
            [str(binary_path('kubectl')), f"--kubeconfig={directory / 'kubeconfig'}", "get", "nodes", "--no-headers"],
            capture_output=True, text=True, timeout=30,
        )
        assert nodes.stdout.split()[:2] == [NODE_NAME, "Ready"]
    finally:
        stopped = subprocess.run([*CLI, "down", "--dir", str(directory)], capture_output=True, text=True, timeout=90)
    assert stopped.returncode == 0, stopped.stderr
    assert not list((directory / "pids").glob("*.pid"))
    # Exited children of the finished `up` are reaped by init a moment later; a zombie is no longer running.
    assert [pid for pid in pids if running(pid)] == []
    assert processes_mentioning(str(directory)) == []


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


