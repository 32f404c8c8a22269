"""Which TCP connections a pod can open, tried from inside it (`kubectl exec`, the pod's own network namespace),
and the chart's recorder NetworkPolicy taken away and put back to compare."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from pandora_testenv.cluster import KubeCluster

POLICY = "pandora-recorder"
CONNECTED = "connected"
# For each host:port argument, one line: "connected" or why not (kube-router rejects what no policy allows:
# "Connection refused" at once).
_CONNECT = """
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        print("connected")
    except OSError as error:
        print(type(error).__name__, error)
"""


@dataclass(frozen=True)
class Attempt:
    """A connection from a container of a pod to host:port."""

    pod: str
    container: str
    host: str
    port: int


def outcomes(cluster: KubeCluster, namespace: str, attempts: dict[str, Attempt]) -> dict[str, str]:
    """What -> outcome; one `kubectl exec` per container tries all of its attempts."""
    result: dict[str, str] = {}
    sources = {(attempt.pod, attempt.container) for attempt in attempts.values()}
    for pod, container in sorted(sources):
        mine = [(what, attempt) for what, attempt in attempts.items() if (attempt.pod, attempt.container) == (
            pod, container)]
        ran = cluster.kubectl("-n", namespace, "exec", pod, "-c", container, "--", "python", "-c", _CONNECT,
                              *(f"{attempt.host}:{attempt.port}" for _, attempt in mine), timeout=60)
        lines = ran.stdout.splitlines()
        for index, (what, _attempt) in enumerate(mine):
            result[what] = lines[index] if index < len(lines) else f"kubectl exec failed: {ran.stderr.strip()}"
    return result


def _refused(result: dict[str, str]) -> bool:
    return all("Connection refused" in outcome or "timed out" in outcome for outcome in result.values())


def _connected(result: dict[str, str]) -> bool:
    return all(outcome == CONNECTED for outcome in result.values())


def _until(what: str, cluster: KubeCluster, namespace: str, attempts: dict[str, Attempt],
           done: Callable[[dict[str, str]], bool], timeout: float = 30) -> None:
    """Try the attempts until `done` holds for their outcomes (the firewall follows policy changes within a
    sync); fail with the last outcomes."""
    deadline = time.monotonic() + timeout
    while not done(result := outcomes(cluster, namespace, attempts)):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last outcomes: {result}")
        time.sleep(0.5)


def check_enforced(cluster: KubeCluster, namespace: str, allowed: dict[str, Attempt],
                   forbidden: dict[str, Attempt]) -> None:
    """Under the policy every allowed attempt connects and every forbidden one is refused; once the policy is
    deleted the forbidden ones connect (so the refusals came from it, not from a closed port); once it is back
    they are refused again while the allowed ones still connect."""
    under_policy = outcomes(cluster, namespace, allowed), outcomes(cluster, namespace, forbidden)
    assert _connected(under_policy[0]) and _refused(under_policy[1]), under_policy
    saved = json.loads(cluster.kubectl("-n", namespace, "get", "networkpolicy", POLICY, "-o", "json",
                                       check=True).stdout)
    cluster.kubectl("-n", namespace, "delete", "networkpolicy", POLICY, check=True)
    try:
        _until("every forbidden connection to open without the policy", cluster, namespace, forbidden, _connected)
    finally:
        # Back as helm made it (its labels and annotations keep it in the release).
        metadata = saved["metadata"]
        saved["metadata"] = {key: metadata[key] for key in ("name", "namespace", "labels", "annotations")
                             if key in metadata}
        cluster.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(saved), check=True)
    _until("the forbidden connections to be refused again with the policy back", cluster, namespace, forbidden,
           _refused)
    again = outcomes(cluster, namespace, allowed)
    assert _connected(again), again
