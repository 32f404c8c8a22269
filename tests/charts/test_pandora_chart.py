"""charts/pandora as a user meets it: `helm lint --strict`, values checked by values.schema.json, and an install
on a cluster without Dapr that stops with instructions instead of a bare mapping error."""

from __future__ import annotations

from pathlib import Path

CHART = Path(__file__).resolve().parents[2] / "charts" / "pandora"


def test_lint_strict_is_clean(kube_cluster):
    lint = kube_cluster.helm("lint", "--strict", str(CHART))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "[WARNING]" not in lint.stdout and "[ERROR]" not in lint.stdout


def test_install_without_dapr_says_dapr_is_a_prerequisite_and_how_to_install_it(kube_cluster, namespace):
    assert kube_cluster.kubectl("get", "crd", "components.dapr.io").returncode != 0, "this cluster has Dapr"
    install = kube_cluster.helm("install", "pandora", str(CHART), "--namespace", namespace,
                                "--set", "discord.token=x-token")
    assert install.returncode != 0
    assert "no matches for kind" not in install.stderr
    assert "Dapr is not installed on this cluster" in install.stderr
    assert "helm install dapr dapr/dapr --namespace dapr-system" in install.stderr
    assert f"dapr_sidecar_injector.allowedServiceAccounts={namespace}:pandora-operator" in install.stderr
    assert "dapr.components=false" in install.stderr
    # Nothing of the release was created.
    assert kube_cluster.helm("list", "--namespace", namespace, "--short").stdout.split() == []
    assert kube_cluster.kubectl("-n", namespace, "get", "deployment,secret,serviceaccount", "-o", "name",
                                "-l", "app.kubernetes.io/name=pandora").stdout == ""


def test_without_dapr_components_the_chart_installs_and_notes_say_what_to_do_next(kube_cluster, namespace):
    install = kube_cluster.helm("install", "pandora", str(CHART), "--namespace", namespace,
                                "--set", "dapr.components=false")
    assert install.returncode == 0, install.stderr
    notes = install.stdout
    assert "STATUS: deployed" in notes
    # No token given: the notes say how to create the bot pool Secret, then how to record, stop and fetch.
    assert f"kubectl -n {namespace} create secret generic pandora-bots" in notes
    assert f"helm test pandora -n {namespace}" in notes
    assert f"allowedServiceAccounts={namespace}:pandora-operator" in notes
    assert "kind: Recording" in notes and '"spec":{"stop":true}' in notes and "pandora cook" in notes


def test_a_typo_in_values_is_rejected_with_the_key_named(kube_cluster, namespace):
    for typo, where in (
        ("operator.imag.tag=1", "'/operator': additional properties 'imag' not allowed"),
        ("recorder.stopGraceSecond=30", "'/recorder': additional properties 'stopGraceSecond' not allowed"),
        ("storage.s3.bucekt=b", "'/storage/s3': additional properties 'bucekt' not allowed"),
    ):
        install = kube_cluster.helm("install", "pandora", str(CHART), "--namespace", namespace,
                                    "--set", "dapr.components=false", "--set", typo)
        assert install.returncode != 0, typo
        assert "values don't meet the specifications of the schema" in install.stderr, install.stderr
        assert where in install.stderr, install.stderr


def test_a_wrong_type_or_a_token_in_the_recorder_environment_is_rejected(kube_cluster):
    for values, message in (
        (["--set", "recorder.stopGraceSeconds=soon"], "'/recorder/stopGraceSeconds': got string, want integer"),
        (["--set", "recorder.env.PANDORA_TOKEN=secret"], "'/recorder/env': 'not' failed"),
        (["--set", "operator.image.pullPolicy=Sometimes"], "'/operator/image/pullPolicy'"),
    ):
        rendered = kube_cluster.helm("template", "pandora", str(CHART), *values)
        assert rendered.returncode != 0, values
        assert message in rendered.stderr, rendered.stderr


def test_two_releases_in_two_namespaces_do_not_collide(kube_cluster, namespace):
    """Cluster-scoped objects (admission policy, a cluster-wide operator's ClusterRole) are named per release."""
    other = f"{namespace}-b"
    kube_cluster.kubectl("create", "namespace", other, check=True)
    try:
        for target, values in ((namespace, []), (other, ["--set", "operator.clusterWide=true"])):
            install = kube_cluster.helm("install", "pandora", str(CHART), "--namespace", target,
                                        "--set", "dapr.components=false", *values)
            assert install.returncode == 0, install.stderr
        policies = kube_cluster.kubectl("get", "validatingadmissionpolicybindings", "-o",
                                        "jsonpath={.items[*].metadata.name}").stdout.split()
        assert {f"pandora-recorder-own-status-{namespace}", f"pandora-recorder-own-status-{other}"} <= set(policies)
    finally:
        kube_cluster.helm("uninstall", "pandora", "--namespace", other)
        kube_cluster.kubectl("delete", "namespace", other, "--wait=false")
