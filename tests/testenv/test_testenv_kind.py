"""The kind backend (pytest-kind): where a Docker engine runs it makes a real cluster; elsewhere it says why not."""

from __future__ import annotations

import pytest

from pandora_testenv.cluster import kind_unavailable_reason
from pandora_testenv.pytest_plugin import kind_cluster


def test_kind_without_docker_command_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert kind_unavailable_reason() == "kind needs a Docker engine and there is no `docker` command"


def test_kind_with_an_unreachable_engine_quotes_docker(monkeypatch, tmp_path):
    docker = tmp_path / "docker"
    refusal = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    docker.write_text(f"#!/bin/sh\necho '{refusal}' >&2\nexit 1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = kind_unavailable_reason()
    assert reason == f"kind needs a Docker engine and `docker info` failed: {refusal}"


def test_kind_cluster_answers_where_docker_runs():
    reason = kind_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    for cluster in kind_cluster():
        nodes = cluster.kubectl("get", "nodes", "-o", "name", check=True).stdout
        assert nodes.startswith("node/")
