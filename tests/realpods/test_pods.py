"""Pandora's images as pods on the real node: the recorder image's own entry point runs as non-root on a
read-only root filesystem and holds only the recorder; pods reach the API server, cluster DNS and host services."""

from __future__ import annotations

import json

import pytest
from pods import exit_code, pod_manifest, run_to_completion

from pandora_testenv.realnode.host import GATEWAY

pytestmark = pytest.mark.timeout(300)

INSPECT = r"""
import errno, importlib.util, json, os, pwd, shutil
def writable(path):
    try:
        open(path, "w").close()
        return "yes"
    except OSError as error:
        return errno.errorcode[error.errno]
print(json.dumps({
    "uid": os.getuid(),
    "user": pwd.getpwuid(os.getuid()).pw_name,
    "modules": {name: importlib.util.find_spec(name) is not None for name in
                ("pandora", "pandora_recorder", "pandora_simulator", "pandora_testenv", "pandora_operator")},
    "tools": {name: shutil.which(name) for name in ("gcc", "cc", "ffmpeg")},
    "write /opt/pandora": writable("/opt/pandora/x"), "write /": writable("/x"), "write /tmp": writable("/tmp/x"),
}))
"""


def test_recorder_image_entry_point_runs_pandora_record(real_cluster, real_namespace):
    image = real_cluster.images["recorder"].ref
    # No command, no args: the image's own ENTRYPOINT and CMD (`pandora record --help`).
    pod, logs = run_to_completion(real_cluster.cluster, real_namespace, pod_manifest("recorder-help", image))
    assert exit_code(pod) == 0, logs
    assert pod["spec"]["nodeName"] == real_cluster.node.name
    assert logs.startswith("usage: pandora record")
    assert "--guild GUILD --channel CHANNEL" in logs


def test_recorder_image_holds_only_the_recorder_and_writes_only_to_its_volumes(real_cluster, real_namespace):
    image = real_cluster.images["recorder"].ref
    pod, logs = run_to_completion(real_cluster.cluster, real_namespace,
                                  pod_manifest("recorder-inside", image, command=["python3", "-c", INSPECT]))
    assert exit_code(pod) == 0, logs
    inside = json.loads(logs)
    assert (inside["uid"], inside["user"]) == (10001, "pandora")  # a passwd entry: getpass works (kopf needs it)
    assert inside["modules"] == {"pandora": True, "pandora_recorder": True, "pandora_simulator": False,
                                 "pandora_testenv": False, "pandora_operator": False}
    assert inside["tools"] == {"gcc": None, "cc": None, "ffmpeg": None}
    assert (inside["write /opt/pandora"], inside["write /"], inside["write /tmp"]) == ("EROFS", "EROFS", "yes")


NETWORK_PROBE = r"""
import json, socket, sys
def resolves(name):
    try:
        return socket.gethostbyname(name)
    except OSError:
        return None
def connects(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except OSError as error:
        return str(error)
host, port = sys.argv[1], int(sys.argv[2])
print(json.dumps({
    "dns": resolves("kubernetes.default.svc.cluster.local"),
    "unknown service": resolves("nothing-here.default.svc.cluster.local"),
    "api server": connects("kubernetes.default.svc.cluster.local", 443),
    "host service": connects(host, port),
}))
"""


def test_a_pod_reaches_the_api_server_cluster_dns_and_a_host_service(real_cluster, real_namespace, bridge_redis):
    image = real_cluster.images["operator"].ref
    command = ["python3", "-c", NETWORK_PROBE, GATEWAY, str(bridge_redis.port)]
    pod, logs = run_to_completion(real_cluster.cluster, real_namespace, pod_manifest("network", image, command=command))
    assert exit_code(pod) == 0, logs
    assert json.loads(logs) == {"dns": "10.0.0.1", "unknown service": None, "api server": True, "host service": True}
    assert pod["status"]["podIP"].startswith("10.86.0.")
