"""The chart's front door: one Recreate replica under its own ServiceAccount, allowed only to create and follow
Recordings, its token from the bot Secret, non-root on a read-only filesystem."""

from __future__ import annotations

import pytest
from recording_helpers import CHART, apply_rbac, render_chart
from test_operator_pod_security import RESTRICTED
from test_operator_rbac import _denied_or_allowed_wrongly

pytestmark = pytest.mark.timeout(120)

ACCOUNT = "pandora-frontdoor"
FRONT_DOOR_CAN = [(verb, "recordings.pandora.dev") for verb in ("create", "get", "list", "watch", "patch")]
FRONT_DOOR_CANNOT = [
    ("delete", "recordings.pandora.dev"),
    ("update", "recordings.pandora.dev"),
    ("patch", "recordings.pandora.dev/status"),
    ("update", "recordings.pandora.dev/finalizers"),
    ("get", "secret/pandora-bots"),
    ("list", "secrets"),
    ("list", "pods"),
    ("create", "pods"),
    ("create", "events"),
    ("list", "configmaps"),
]


def test_front_door_may_create_and_follow_recordings_and_nothing_more(kube_cluster, namespace, recording_crd):
    apply_rbac(kube_cluster, namespace)
    assert _denied_or_allowed_wrongly(kube_cluster, namespace, ACCOUNT, FRONT_DOOR_CAN, True) == []
    assert _denied_or_allowed_wrongly(kube_cluster, namespace, ACCOUNT, FRONT_DOOR_CANNOT, False) == []
    assert _denied_or_allowed_wrongly(kube_cluster, namespace, ACCOUNT, FRONT_DOOR_CAN, False,
                                      in_namespace="kube-system") == []


def _front_door(docs: list[dict]) -> dict:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "pandora-frontdoor"]
    return deployment


def test_chart_renders_one_recreate_front_door_with_the_token_from_the_bot_secret(kube_cluster, namespace):
    docs = render_chart(kube_cluster, namespace, "discord.token=x-secret-token", "frontdoor.commandPrefix=!",
                        strings=("frontdoor.accessRoles[0]=555555555555555555",))
    deployment = _front_door(docs)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == ACCOUNT
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"] == ["frontdoor", f"--namespace={namespace}"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {item["name"]: item for item in container["env"]}
    assert env["PANDORA_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "pandora-bots", "key": "pandora"}}
    assert env["COMMAND_PREFIX"]["value"] == "!"
    assert env["PANDORA_ACCESS_ROLES"]["value"] == "555555555555555555"
    assert "DISABLE_INTERACTIONS" not in env
    assert "x-secret-token" not in str(deployment)


def test_front_door_has_its_own_dapr_app_id_for_the_pub_sub_bridge_and_the_shared_identify_slots(
        kube_cluster, namespace):
    docs = render_chart(kube_cluster, namespace, "discord.token=x", "frontdoor.pubsub.appPort=50054")
    template = _front_door(docs)["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "dapr.io/enabled": "true", "dapr.io/app-id": "pandora-frontdoor", "dapr.io/app-port": "50054",
        "dapr.io/app-protocol": "http",
    }
    env = {item["name"]: item.get("value") for item in template["spec"]["containers"][0]["env"]}
    assert env["PUBSUB_NAME"] == "pandora-pubsub" and env["DAPR_SERVER_PORT"] == "50054"
    assert env["PANDORA_STATE_STORE"] == "pandora-statestore"
    (pubsub,) = [d for d in docs if d["kind"] == "Component" and d["metadata"]["name"] == "pandora-pubsub"]
    assert pubsub["scopes"] == ["pandora-frontdoor"]
    # Bring your own Component: the bridge stays, the chart renders none.
    own = render_chart(kube_cluster, namespace, "discord.token=x", "dapr.components=false")
    assert not [d for d in own if d["kind"] == "Component"]
    assert "PUBSUB_NAME" in str(_front_door(own))
    # No sidecar: neither the bridge nor shared slots.
    bare = _front_door(render_chart(kube_cluster, namespace, "discord.token=x", "frontdoor.dapr.enabled=false"))
    assert "annotations" not in bare["spec"]["template"]["metadata"]
    assert "PUBSUB_NAME" not in str(bare) and "PANDORA_STATE_STORE" not in str(bare)


def test_with_a_pool_the_front_door_uses_the_first_bot_and_can_be_turned_off(kube_cluster, namespace):
    docs = render_chart(kube_cluster, namespace, "discord.bots.beta=b", "discord.bots.alpha=a",
                        "frontdoor.slashCommands=false")
    env = {item["name"]: item for item in _front_door(docs)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PANDORA_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "alpha"
    assert env["DISABLE_INTERACTIONS"]["value"] == "true"
    off = render_chart(kube_cluster, namespace, "discord.token=x", "frontdoor.enabled=false")
    assert not [d for d in off if "frontdoor" in d["metadata"]["name"]]


def test_front_door_deployment_is_admitted_under_the_restricted_pod_security_standard(kube_cluster, namespace):
    labels = [f"{key}={value}" for key, value in RESTRICTED.items()]
    assert kube_cluster.kubectl("label", "namespace", namespace, "--overwrite", *labels).returncode == 0
    rendered = kube_cluster.helm("template", "pandora", str(CHART), "--namespace", namespace, "--set",
                                 "discord.token=x", "--show-only", "templates/frontdoor-deployment.yaml")
    assert rendered.returncode == 0, rendered.stderr
    admitted = kube_cluster.kubectl("apply", "-n", namespace, "--dry-run=server", "-f", "-", input=rendered.stdout)
    assert admitted.returncode == 0, admitted.stderr
    assert "would violate PodSecurity" not in admitted.stderr


def test_an_access_role_given_as_a_number_is_refused_before_it_loses_digits(kube_cluster, namespace):
    # YAML and --set read an 18-digit id as a number; as a float it would name another role.
    result = kube_cluster.helm("template", "pandora", str(CHART), "--namespace", namespace,
                               "--set", "frontdoor.accessRoles[0]=555555555555555555")
    assert result.returncode != 0
    assert "at '/frontdoor/accessRoles/0': got number, want string" in result.stderr
