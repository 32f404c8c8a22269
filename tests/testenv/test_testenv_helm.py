"""helm lint, template and install of a small chart against the test cluster."""

from __future__ import annotations

from pathlib import Path

import yaml

CHART = Path(__file__).parent / "chart" / "smoke"


def test_helm_lint_and_template(kube_cluster):
    lint = kube_cluster.helm("lint", str(CHART))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in lint.stdout

    rendered = kube_cluster.helm("template", "demo", str(CHART), "--set", "greeting=hi")
    assert rendered.returncode == 0, rendered.stderr
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(rendered.stdout) if doc}
    assert set(documents) == {"ConfigMap", "ServiceAccount", "Deployment"}
    assert documents["ConfigMap"]["data"] == {"greeting": "hi"}
    assert documents["Deployment"]["spec"]["template"]["spec"]["serviceAccountName"] == "demo"


def test_helm_install_deploys_and_pods_become_ready(kube_cluster, namespace):
    install = kube_cluster.helm(
        "install", "demo", str(CHART), "--namespace", namespace, "--wait", "--timeout=90s", "--set", "replicas=2"
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert "STATUS: deployed" in install.stdout
    ready = kube_cluster.kubectl(
        "-n", namespace, "get", "deployment", "demo", "-o", "jsonpath={.status.readyReplicas}"
    )
    assert ready.stdout == "2"
    releases = kube_cluster.helm("list", "--namespace", namespace, "--short")
    assert releases.stdout.split() == ["demo"]
