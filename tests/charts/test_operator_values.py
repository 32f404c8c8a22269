"""Chart values that reach the operator: the Deployment's environment read back by the operator's own config
reader, as the operator does at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pandora_operator.config import DEFAULT_DAILY_RECORDER_STARTS, OperatorConfig

CHART = Path(__file__).resolve().parents[2] / "charts" / "pandora"
pytestmark = pytest.mark.timeout(120)


def operator_config(kube_cluster, *values: str) -> OperatorConfig:
    result = kube_cluster.helm("template", "pandora", str(CHART), "--show-only",
                               "templates/operator-deployment.yaml", *(f"--set={value}" for value in values))
    assert result.returncode == 0, result.stderr
    deployment: dict[str, Any] = yaml.safe_load(result.stdout)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return OperatorConfig.from_env({entry["name"]: entry["value"] for entry in container["env"] if "value" in entry})


def test_the_daily_recorder_start_budget_is_a_chart_value(kube_cluster):
    assert operator_config(kube_cluster).daily_recorder_starts == DEFAULT_DAILY_RECORDER_STARTS == 750
    assert operator_config(kube_cluster, "operator.dailyRecorderStarts=200").daily_recorder_starts == 200


def test_a_daily_budget_that_is_not_a_positive_whole_number_is_refused(kube_cluster):
    for value, message in (("0", "'/operator/dailyRecorderStarts': minimum"),
                           ("many", "'/operator/dailyRecorderStarts': got string, want integer")):
        refused = kube_cluster.helm("template", "pandora", str(CHART), "--set",
                                    f"operator.dailyRecorderStarts={value}")
        assert refused.returncode != 0, value
        assert message in refused.stderr, refused.stderr
