"""Benchmark: 1,000 Recordings applied at once -> seconds until every pod exists and every status says Recording,
and the operator's peak RSS.  Targets: <= 60 s, <= 200 MiB.

Runs on $PANDORA_TEST_KUBECONFIG if set, else starts the local control plane (`pandora-testenv build` first).
KWOK plays the pods; the fake node takes 110 pods, so the benchmark adds fake nodes until 1,000 fit.
Every Recording is in its own guild, so one bot covers them all (the bot pool allows one recording per guild
per bot). The Recordings are created by 32 concurrent API requests. The operator runs as
`pandora operator --namespace NS`, a child process, with the admin kubeconfig.

    .venv/bin/python benchmarks/bench_operator.py [--count 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CRD = REPO / "crds" / "recordings.pandora.dev.yaml"
PODS_PER_NODE = 110


@contextlib.contextmanager
def cluster() -> Iterator[tuple[Path, bool]]:
    """(kubeconfig, simulated): an existing cluster, or the local control plane started for this run."""
    named = os.environ.get("PANDORA_TEST_KUBECONFIG")
    if named:
        yield Path(named), False
        return
    from pandora_testenv.controlplane import down, up

    directory = Path(tempfile.mkdtemp(prefix="pandora-bench-"))
    plane = up(directory)
    try:
        yield plane.kubeconfig, True
    finally:
        down(directory)


def kubectl(kubeconfig: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    from pandora_testenv.cluster import tool

    result = subprocess.run(
        [tool("kubectl"), f"--kubeconfig={kubeconfig}", *args], input=input, capture_output=True, text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result.stdout


def add_fake_nodes(kubeconfig: Path, count: int) -> None:
    """Enough KWOK nodes for ``count`` pods (KWOK manages nodes with its annotation)."""
    from pandora_testenv.controlplane import NODE_ANNOTATION

    nodes = -(-count // PODS_PER_NODE)
    manifests = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"pandora-bench-node-{index}",
                "annotations": {NODE_ANNOTATION[0]: NODE_ANNOTATION[1], "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok",
                           "kubernetes.io/hostname": f"pandora-bench-node-{index}"},
            },
        }
        for index in range(nodes)
    ]
    kubectl(kubeconfig, "apply", "-f", "-", input=yaml.safe_dump_all(manifests))
    kubectl(kubeconfig, "wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")


def recordings(count: int) -> list[dict]:
    return [
        {
            "apiVersion": "pandora.dev/v1alpha1",
            "kind": "Recording",
            "metadata": {"name": f"bench-{index}"},
            "spec": {
                "guildId": str(100000000000000000 + index),
                "voiceChannelId": str(200000000000000000 + index),
                "requestedBy": {"source": "kubectl"},
            },
        }
        for index in range(count)
    ]


def create_all(kubeconfig: Path, namespace: str, documents: list[dict], parallel: int = 32) -> None:
    """POST every Recording with ``parallel`` requests in flight (kubectl applies one at a time)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = parallel
    with client.ApiClient(configuration) as api, ThreadPoolExecutor(parallel) as pool:
        custom = client.CustomObjectsApi(api)
        created = pool.map(
            lambda document: custom.create_namespaced_custom_object(
                "pandora.dev", "v1alpha1", namespace, "recordings", document
            ),
            documents,
        )
        for _ in created:  # re-raises the first failure
            pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_operator(kubeconfig: Path, namespace: str, log: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PANDORA_LOG_LEVEL": "WARNING",
           # 1,000 recorders of one bot in a day would spend its IDENTIFY budget; KWOK's pods never log in.
           "PANDORA_DAILY_RECORDER_STARTS": "1000000"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pandora.cli", "operator", "--namespace", namespace,
         "--liveness", f"http://127.0.0.1:{port}/healthz"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"operator exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return process
        time.sleep(0.3)
    raise RuntimeError("operator did not become live")


def rss_mib(pid: int, field: str = "VmHWM") -> float:
    """VmHWM: the peak resident set size; VmRSS: the current one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    with cluster() as (kubeconfig, simulated):
        namespace = f"bench-{uuid.uuid4().hex[:6]}"
        kubectl(kubeconfig, "apply", "-f", str(CRD))
        kubectl(kubeconfig, "wait", "--for=condition=Established", "crd/recordings.pandora.dev")
        if simulated:
            add_fake_nodes(kubeconfig, args.count)
        kubectl(kubeconfig, "create", "namespace", namespace)
        kubectl(kubeconfig, "create", "secret", "generic", "pandora-bots", "-n", namespace,
                "--from-literal=alpha=bench-token-not-real")
        kubectl(kubeconfig, "create", "serviceaccount", "pandora-recorder", "-n", namespace)
        log = Path(tempfile.mkdtemp(prefix="pandora-bench-log-")) / "operator.log"
        operator = start_operator(kubeconfig, namespace, log)
        try:
            started = time.monotonic()
            create_all(kubeconfig, namespace, recordings(args.count))
            applied = time.monotonic() - started
            all_pods = all_recording = None
            while time.monotonic() - started < args.timeout:
                time.sleep(2.0)  # polling lists 1,000 objects: keep its own load small
                pod_names = kubectl(kubeconfig, "get", "pods", "-n", namespace, "-o", "name",
                                    "-l", "app.kubernetes.io/managed-by=pandora-operator").split()
                phases = kubectl(kubeconfig, "get", "recordings", "-n", namespace, "-o",
                                 "jsonpath={.items[*].status.phase}").split()
                now = time.monotonic() - started
                if all_pods is None and len(pod_names) >= args.count:
                    all_pods = now
                recording = phases.count("Recording")
                print(f"  t={now:6.1f}s pods={len(pod_names):5d} Recording={recording:5d}", flush=True)
                if recording >= args.count:
                    all_recording = now
                    break
            rss = rss_mib(operator.pid)
            time.sleep(10)  # settled: every Recording is steady
            settled_rss = rss_mib(operator.pid, "VmRSS")
        finally:
            operator.terminate()
            operator.wait(30)
        print(json.dumps({
            "recordings": args.count,
            "create_all_seconds": round(applied, 1),
            "all_pods_exist_seconds": None if all_pods is None else round(all_pods, 1),
            "all_status_recording_seconds": None if all_recording is None else round(all_recording, 1),
            "operator_peak_rss_mib": round(rss, 1),
            "operator_rss_after_10s_steady_mib": round(settled_rss, 1),
            "targets": {"seconds": 60, "rss_mib": 200},
        }, indent=2))
        if not simulated:
            print(f"leaving namespace {namespace} on the named cluster; delete it with the operator running")
    return 0 if all_recording is not None else 1


if __name__ == "__main__":
    sys.exit(main())
