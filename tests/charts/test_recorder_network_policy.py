"""The chart's NetworkPolicy for recorder pods: it selects exactly the pods the operator creates, admits no inbound
connection, opens the ports recording needs (the stores' taken from the storage values), and the real API server
stores it as rendered. (The test cluster's network does not enforce policies; tests/realpods records with it.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pandora.recording_api.resource import RecordingSpec
from pandora_operator.config import OperatorConfig
from pandora_operator.podspec import build_recorder_pod

CHART = Path(__file__).resolve().parents[2] / "charts" / "pandora"
pytestmark = pytest.mark.timeout(120)


def render(kube_cluster, namespace: str, *values: str) -> list[dict[str, Any]]:
    result = kube_cluster.helm("template", "pandora", str(CHART), "--namespace", namespace,
                               *(f"--set={value}" for value in values))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def policies(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["namespace"]: doc for doc in docs if doc["kind"] == "NetworkPolicy"}


def open_ports(policy: dict[str, Any]) -> set[tuple[str, int, int]]:
    """(protocol, first port, last port) of every egress rule open to any destination."""
    return {(port["protocol"], port["port"], port.get("endPort", port["port"]))
            for rule in policy["spec"]["egress"] if "to" not in rule for port in rule["ports"]}


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    return policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


def test_the_policy_selects_the_recorder_pods_the_operator_creates_and_admits_nothing_in(kube_cluster, namespace):
    (policy,) = policies(render(kube_cluster, namespace)).values()
    recorder = build_recorder_pod(recording="standup", namespace=namespace, recording_id="872660673", attempt=0,
                                  spec=RecordingSpec("100000000000000001", "200000000000000001"), bot="alpha",
                                  config=OperatorConfig())
    assert selects(policy, recorder["metadata"]["labels"])
    operator_pod = next(doc for doc in render(kube_cluster, namespace) if doc["kind"] == "Deployment"
                        and doc["metadata"]["name"] == "pandora-operator")["spec"]["template"]
    assert not selects(policy, operator_pod["metadata"]["labels"])
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == []


def test_egress_is_dns_api_server_discord_dapr_and_the_stores_ports_from_the_values(kube_cluster, namespace):
    (policy,) = policies(render(kube_cluster, namespace)).values()
    # Defaults: Redis at redis-master:6379, S3 on AWS (https).
    assert open_ports(policy) == {("UDP", 53, 53), ("TCP", 53, 53), ("TCP", 443, 443), ("TCP", 6443, 6443),
                                  ("UDP", 1024, 65535), ("TCP", 6379, 6379)}
    (dapr,) = [rule for rule in policy["spec"]["egress"] if "to" in rule]
    assert dapr["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dapr-system"}}}]
    assert {port["port"] for port in dapr["ports"]} == {50001, 6500, 50005, 50006}

    moved = policies(render(kube_cluster, namespace, "storage.s3.endpoint=http://minio.storage:9000",
                           "stateStore.redis.host=redis.storage", "networkPolicy.recorder.storePorts[0]=7000"))
    ports = open_ports(moved[namespace])
    assert {("TCP", 9000, 9000), ("TCP", 6379, 6379), ("TCP", 7000, 7000)} <= ports
    plain_http = policies(render(kube_cluster, namespace, "storage.s3.endpoint=http://minio.storage"))
    assert ("TCP", 80, 80) in open_ports(plain_http[namespace])


def test_one_policy_per_recorder_namespace_or_none_when_turned_off(kube_cluster, namespace):
    both = policies(render(kube_cluster, namespace, "recorder.recorderNamespaces[0]=guild-b"))
    assert set(both) == {namespace, "guild-b"}
    assert policies(render(kube_cluster, namespace, "networkPolicy.recorder.enabled=false")) == {}


def test_extra_rules_are_added_and_misspelt_or_out_of_range_values_refused(kube_cluster, namespace):
    extra = {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"protocol": "TCP", "port": 8200}]}
    result = kube_cluster.helm("template", "pandora", str(CHART), "--namespace", namespace, "--set-json",
                               f"networkPolicy.recorder.extraEgress=[{json.dumps(extra)}]")
    assert result.returncode == 0, result.stderr
    (policy,) = policies([doc for doc in yaml.safe_load_all(result.stdout) if doc]).values()
    assert policy["spec"]["egress"][-1] == extra
    for value, message in (
        ("networkPolicy.recorder.enable=false", "'/networkPolicy/recorder': additional properties 'enable'"),
        ("networkPolicy.recorder.discordTcpPorts[0]=70000", "'/networkPolicy/recorder/discordTcpPorts/0'"),
    ):
        refused = kube_cluster.helm("template", "pandora", str(CHART), "--set", value)
        assert refused.returncode != 0, value
        assert message in refused.stderr, refused.stderr


def test_the_api_server_admits_the_policy_and_keeps_every_field(kube_cluster, namespace):
    rendered = kube_cluster.helm("template", "pandora", str(CHART), "--namespace", namespace,
                                 "--show-only", "templates/recorder-networkpolicy.yaml")
    assert rendered.returncode == 0, rendered.stderr
    applied = kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=rendered.stdout)
    assert applied.returncode == 0, applied.stderr
    stored = json.loads(kube_cluster.kubectl("-n", namespace, "get", "networkpolicy", "pandora-recorder", "-o",
                                             "json", check=True).stdout)
    (sent,) = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    # Nothing dropped or changed on the way in (an API server without endPort support would drop it silently).
    assert stored["spec"]["podSelector"] == sent["spec"]["podSelector"]
    assert open_ports(stored) == open_ports(sent)
    assert stored["spec"]["egress"] == sent["spec"]["egress"]
    assert stored["spec"].get("ingress", []) == []
