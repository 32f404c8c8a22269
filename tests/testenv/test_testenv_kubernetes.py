"""Smoke tests of the cluster fixture: what an operator relies on must really happen (CRD validation, printer
columns, RBAC, scheduling, garbage collection, namespace deletion, KWOK's pod lifecycle)."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pandora_testenv.cluster import EXIT_CODE_ANNOTATION, TERMINATION_DELAY_ANNOTATION, KubeCluster
from pandora_testenv.polling import wait_for

CRD = textwrap.dedent(
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.smoke.pandora.dev
    spec:
      group: smoke.pandora.dev
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Phase, type: string, jsonPath: .status.phase}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                required: [size]
                properties:
                  size: {type: integer}
                x-kubernetes-validations:
                - rule: "self.size <= 10"
                  message: "size must be at most 10"
              status:
                type: object
                properties:
                  phase: {type: string}
    """
)


def widget(name: str, size: int) -> str:
    return json.dumps(
        {"apiVersion": "smoke.pandora.dev/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": size}}
    )


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def widget_crd(kube_cluster: KubeCluster) -> Iterator[str]:
    ok(kube_cluster.kubectl("apply", "-f", "-", input=CRD))
    ok(kube_cluster.kubectl("wait", "--for=condition=Established", "crd/widgets.smoke.pandora.dev", "--timeout=30s"))
    yield "widgets.smoke.pandora.dev"
    kube_cluster.kubectl("delete", "crd", "widgets.smoke.pandora.dev", "--wait=false")


def test_crd_cel_rule_rejects_invalid_object_with_its_message(kube_cluster, namespace, widget_crd):
    ok(kube_cluster.kubectl("-n", namespace, "create", "-f", "-", input=widget("small", 3)))
    rejected = kube_cluster.kubectl("-n", namespace, "create", "-f", "-", input=widget("huge", 11))
    assert rejected.returncode != 0
    assert "size must be at most 10" in rejected.stderr
    assert "huge" not in kube_cluster.kubectl("-n", namespace, "get", "widgets", "-o", "name").stdout


def test_crd_status_subresource_and_printer_columns(kube_cluster, namespace, widget_crd):
    ok(kube_cluster.kubectl("-n", namespace, "create", "-f", "-", input=widget("w1", 4)))
    # The main resource ignores status; only the status subresource sets it.
    kube_cluster.kubectl(
        "-n", namespace, "patch", "widget", "w1", "--type=merge", "-p", '{"status": {"phase": "Ignored"}}'
    )
    phase = kube_cluster.kubectl("-n", namespace, "get", "widget", "w1", "-o", "jsonpath={.status.phase}")
    assert phase.stdout == ""
    ok(
        kube_cluster.kubectl(
            "-n", namespace, "patch", "widget", "w1", "--subresource=status", "--type=merge",
            "-p", '{"status": {"phase": "Recording"}}',
        )
    )
    table = ok(kube_cluster.kubectl("-n", namespace, "get", "widgets"))
    header, row = table.splitlines()[:2]
    # Custom columns replace the default AGE column.
    assert header.split() == ["NAME", "SIZE", "PHASE"]
    assert row.split()[:3] == ["w1", "4", "Recording"]


def test_service_account_is_denied_what_its_role_does_not_grant(kube_cluster, namespace, tmp_path: Path):
    ok(kube_cluster.kubectl("-n", namespace, "create", "serviceaccount", "reader"))
    ok(kube_cluster.kubectl("-n", namespace, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods"))
    ok(
        kube_cluster.kubectl(
            "-n", namespace, "create", "rolebinding", "reader", "--role=pod-reader",
            f"--serviceaccount={namespace}:reader",
        )
    )
    identity = f"system:serviceaccount:{namespace}:reader"

    def can_i(*args: str) -> str:
        return kube_cluster.kubectl("-n", namespace, "auth", "can-i", *args, f"--as={identity}").stdout.strip()

    assert can_i("list", "pods") == "yes"
    assert can_i("create", "pods") == "no"
    assert can_i("list", "secrets") == "no"

    token = ok(kube_cluster.kubectl("-n", namespace, "create", "token", "reader")).strip()
    as_reader = KubeCluster(kube_cluster.token_kubeconfig(token, tmp_path / "reader.kubeconfig"), "token")
    assert as_reader.kubectl("-n", namespace, "get", "pods").returncode == 0
    denied = as_reader.kubectl("-n", namespace, "get", "secrets")
    assert denied.returncode != 0
    assert f'User "{identity}" cannot list resource "secrets"' in denied.stderr


def pod_manifest(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]},
        }
    )


def pod_field(cluster: KubeCluster, namespace: str, name: str, jsonpath: str) -> str:
    return cluster.kubectl("-n", namespace, "get", "pod", name, "-o", f"jsonpath={jsonpath}").stdout


def test_pod_is_scheduled_and_runs(kube_cluster, namespace):
    ok(kube_cluster.kubectl("-n", namespace, "create", "-f", "-", input=pod_manifest("runner")))
    ok(
        kube_cluster.kubectl(
            "-n", namespace, "wait", "--for=jsonpath={.status.phase}=Running", "pod/runner", "--timeout=60s"
        )
    )
    if kube_cluster.fake_node:
        assert pod_field(kube_cluster, namespace, "runner", "{.spec.nodeName}") == kube_cluster.fake_node
    # Deletion with the default grace period completes (KWOK plays the kubelet's part).
    ok(kube_cluster.kubectl("-n", namespace, "delete", "pod", "runner", "--grace-period=30", "--timeout=30s"))
    assert "NotFound" in kube_cluster.kubectl("-n", namespace, "get", "pod", "runner").stderr


@pytest.mark.parametrize(("code", "phase", "reason"), [("0", "Succeeded", "Completed"), ("3", "Failed", "Error")])
def test_exit_code_annotation_finishes_pod(kube_cluster, namespace, code, phase, reason):
    if not kube_cluster.simulates_pods:
        pytest.skip(f"{EXIT_CODE_ANNOTATION} is a KWOK convention; backend {kube_cluster.backend} runs real pods")
    ok(kube_cluster.kubectl("-n", namespace, "create", "-f", "-", input=pod_manifest("worker")))
    ok(kube_cluster.kubectl("-n", namespace, "wait", "--for=jsonpath={.status.phase}=Running", "pod/worker"))
    ok(kube_cluster.kubectl("-n", namespace, "annotate", "pod", "worker", f"{EXIT_CODE_ANNOTATION}={code}"))
    ok(
        kube_cluster.kubectl(
            "-n", namespace, "wait", f"--for=jsonpath={{.status.phase}}={phase}", "pod/worker", "--timeout=30s"
        )
    )
    terminated = json.loads(pod_field(kube_cluster, namespace, "worker", "{.status.containerStatuses[0].state}"))
    assert terminated["terminated"]["exitCode"] == int(code)
    assert terminated["terminated"]["reason"] == reason


def test_child_is_garbage_collected_when_owner_is_deleted(kube_cluster, namespace):
    ok(kube_cluster.kubectl("-n", namespace, "create", "configmap", "owner"))
    uid = ok(kube_cluster.kubectl("-n", namespace, "get", "configmap", "owner", "-o", "jsonpath={.metadata.uid}"))
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "child",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
        },
    }
    ok(kube_cluster.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(child)))
    ok(kube_cluster.kubectl("-n", namespace, "delete", "configmap", "owner"))

    def child_gone() -> bool:
        return "NotFound" in kube_cluster.kubectl("-n", namespace, "get", "configmap", "child").stderr

    wait_for("the child ConfigMap to be garbage-collected", child_gone, timeout=60)


def test_namespace_deletion_completes(kube_cluster):
    name = f"doomed-{int(time.time() * 1000) % 100000}"
    ok(kube_cluster.kubectl("create", "namespace", name))
    ok(kube_cluster.kubectl("-n", name, "create", "configmap", "data", "--from-literal=a=b"))
    ok(kube_cluster.kubectl("-n", name, "create", "-f", "-", input=pod_manifest("resident")))
    ok(kube_cluster.kubectl("-n", name, "wait", "--for=jsonpath={.status.phase}=Running", "pod/resident"))
    ok(kube_cluster.kubectl("delete", "namespace", name, "--timeout=90s"))
    assert "NotFound" in kube_cluster.kubectl("get", "namespace", name).stderr


def test_termination_delay_annotation_keeps_deleted_pod_terminating(kube_cluster, namespace):
    if not kube_cluster.simulates_pods:
        pytest.skip(f"{TERMINATION_DELAY_ANNOTATION} is a KWOK convention; backend {kube_cluster.backend} is real")
    manifest = json.loads(pod_manifest("flusher"))
    manifest["metadata"]["annotations"] = {TERMINATION_DELAY_ANNOTATION: "3s"}
    ok(kube_cluster.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(manifest)))
    ok(kube_cluster.kubectl("-n", namespace, "wait", "--for=jsonpath={.status.phase}=Running", "pod/flusher"))
    requested = time.monotonic()
    ok(kube_cluster.kubectl("-n", namespace, "delete", "pod", "flusher", "--wait=false"))
    assert pod_field(kube_cluster, namespace, "flusher", "{.metadata.deletionTimestamp}") != ""
    ok(kube_cluster.kubectl("-n", namespace, "wait", "--for=delete", "pod/flusher", "--timeout=30s"))
    assert time.monotonic() - requested >= 2.5


def test_api_client_sees_resource_version_conflicts(kube_cluster, namespace):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    with kube_cluster.api_client() as api:
        core = client.CoreV1Api(api)
        created = core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="state"), data={"n": "0"})
        )
        first = client.V1ConfigMap(metadata=created.metadata, data={"n": "1"})
        core.replace_namespaced_config_map("state", namespace, first)
        stale = client.V1ConfigMap(metadata=created.metadata, data={"n": "2"})
        with pytest.raises(ApiException) as conflict:
            core.replace_namespaced_config_map("state", namespace, stale)
        assert conflict.value.status == 409
        assert core.read_namespaced_config_map("state", namespace).data == {"n": "1"}
