"""Least privilege: what the chart's ServiceAccounts may and may not do (`kubectl auth can-i`)."""

from __future__ import annotations

import pytest
from recording_helpers import CHART, apply_rbac, render_chart

pytestmark = pytest.mark.timeout(120)

OPERATOR_CAN = [
    ("list", "recordings.pandora.dev"),
    ("watch", "recordings.pandora.dev"),
    ("get", "recordings.pandora.dev"),
    ("patch", "recordings.pandora.dev"),
    ("patch", "recordings.pandora.dev/status"),
    ("update", "recordings.pandora.dev/finalizers"),
    ("create", "pods"),
    ("delete", "pods"),
    ("list", "pods"),
    ("watch", "pods"),
    ("create", "events"),
    ("get", "secret/pandora-bots"),
]
OPERATOR_CANNOT = [
    ("create", "recordings.pandora.dev"),
    ("delete", "recordings.pandora.dev"),
    ("update", "recordings.pandora.dev"),
    ("get", "secret/other-secret"),
    ("list", "secrets"),
    ("update", "secret/pandora-bots"),
    ("create", "pods/exec"),
    ("get", "pods/log"),
    ("patch", "pods"),
    ("update", "pods"),
    ("create", "deployments.apps"),
    ("create", "roles.rbac.authorization.k8s.io"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
    ("create", "serviceaccounts/token"),
    ("delete", "events"),
    ("list", "configmaps"),
]
RECORDER_CAN = [("get", "recordings.pandora.dev/status"), ("patch", "recordings.pandora.dev/status")]
RECORDER_CANNOT = [
    ("get", "recordings.pandora.dev"),
    ("list", "recordings.pandora.dev"),
    ("patch", "recordings.pandora.dev"),
    ("update", "recordings.pandora.dev/status"),
    ("delete", "recordings.pandora.dev"),
    ("get", "secret/pandora-bots"),
    ("list", "pods"),
    ("create", "pods"),
    ("create", "events"),
]


SUBRESOURCES = {"status", "finalizers", "exec", "log", "token"}


def _can(kube_cluster, namespace: str, account: str, verb: str, resource: str, in_namespace: str) -> bool:
    """`kubectl auth can-i`; "x/status"-style entries are subresources, "secret/name" entries are names."""
    target, _, rest = resource.partition("/")
    extra = [f"--subresource={rest}"] if rest in SUBRESOURCES else []
    what = target if extra else resource
    result = kube_cluster.kubectl(
        "auth", "can-i", verb, what, *extra, "-n", in_namespace,
        f"--as=system:serviceaccount:{namespace}:{account}",
    )
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


def _denied_or_allowed_wrongly(kube_cluster, namespace, account, rules, allowed: bool, in_namespace=None):
    """The rules whose `kubectl auth can-i` answer differs from ``allowed`` (empty when all are as expected)."""
    where = in_namespace or namespace
    return [
        f"{verb} {resource}"
        for verb, resource in rules
        if _can(kube_cluster, namespace, account, verb, resource, where) != allowed
    ]


def test_operator_service_account_can_do_its_job_and_nothing_more(kube_cluster, namespace, recording_crd):
    apply_rbac(kube_cluster, namespace)
    assert _denied_or_allowed_wrongly(kube_cluster, namespace, "pandora-operator", OPERATOR_CAN, True) == []
    assert _denied_or_allowed_wrongly(kube_cluster, namespace, "pandora-operator", OPERATOR_CANNOT, False) == []
    # Namespaced install: nothing at all outside its namespace.
    assert _denied_or_allowed_wrongly(
        kube_cluster, namespace, "pandora-operator", OPERATOR_CAN, False, in_namespace="kube-system"
    ) == []
    assert not _can(kube_cluster, namespace, "pandora-operator", "list", "nodes", namespace)
    assert not _can(kube_cluster, namespace, "pandora-operator", "list", "customresourcedefinitions", namespace)


def test_recorder_service_account_may_only_report_status(kube_cluster, namespace, recording_crd):
    apply_rbac(kube_cluster, namespace)
    assert _denied_or_allowed_wrongly(kube_cluster, namespace, "pandora-recorder", RECORDER_CAN, True) == []
    assert _denied_or_allowed_wrongly(kube_cluster, namespace, "pandora-recorder", RECORDER_CANNOT, False) == []


def test_chart_renders_a_single_recreate_operator_with_liveness_and_the_crd_from_crds(kube_cluster, namespace):
    docs = render_chart(kube_cluster, namespace, "discord.bots.alpha=x-token", "operator.clusterWide=true")
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == sorted(
        ["ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "Secret", "ServiceAccount",
         "ServiceAccount", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
         "Component", "Component", "Configuration",  # the recorder's Dapr object store, state store, config
         "NetworkPolicy",  # recorder pods' network (tests/charts)
         "Service", "Pod",  # the operator's health endpoint and the `helm test` pod that asks it
         "Deployment", "ServiceAccount", "Role", "RoleBinding",  # the command front door (tests/frontdoor)
         "Component"]  # the front door's pub/sub
    )
    (deployment,) = [doc for doc in docs
                     if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "pandora-operator"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--all-namespaces" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # `helm install` installs crds/ first; it is the repository's crds/ folder through a symlink.
    shown = kube_cluster.helm("show", "crds", str(CHART))
    assert shown.returncode == 0, shown.stderr
    assert "name: recordings.pandora.dev" in shown.stdout
