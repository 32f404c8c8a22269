"""The chart's Dapr resources for recorder pods render cleanly and match what the recorder and operator use."""

import subprocess
from pathlib import Path

import pytest
import yaml

from pandora.recording_api.recorder import DEFAULT_STATE_STORE, DEFAULT_STORAGE_BINDING, DEFAULT_STORAGE_PREFIX
from pandora_operator.config import OperatorConfig
from pandora_testenv.cache import binary_path, missing_binaries

CHART = Path(__file__).resolve().parents[3] / "charts" / "pandora"
COMPONENTS = Path(__file__).resolve().parents[3] / "components"


def helm_template(tmp_path, *values):
    if missing_binaries(["helm"]):
        pytest.skip("helm is not in the testenv cache: run `.venv/bin/pandora-testenv build`")
    env = {f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
    result = subprocess.run(
        [str(binary_path("helm")), "template", "pandora", str(CHART), "--namespace", "rec",
         *(f"--set={value}" for value in values)],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def dapr_docs(docs):
    return {(doc["kind"], doc["metadata"]["name"], doc["metadata"]["namespace"]): doc
            for doc in docs if doc["apiVersion"].startswith("dapr.io/")}


def metadata(component):
    return {entry["name"]: entry for entry in component["spec"]["metadata"]}


def test_default_render_has_the_object_store_state_store_and_configuration_the_recorder_names(tmp_path):
    dapr = dapr_docs(helm_template(tmp_path))
    config = OperatorConfig()
    assert sorted(dapr) == [("Component", "pandora-pubsub", "rec"), ("Component", DEFAULT_STORAGE_BINDING, "rec"),
                            ("Component", DEFAULT_STATE_STORE, "rec"), ("Configuration", config.dapr_config, "rec")]
    assert config.storage_binding == DEFAULT_STORAGE_BINDING and config.storage_prefix == DEFAULT_STORAGE_PREFIX
    store = dapr[("Component", DEFAULT_STORAGE_BINDING, "rec")]
    state = dapr[("Component", DEFAULT_STATE_STORE, "rec")]
    pubsub = dapr[("Component", "pandora-pubsub", "rec")]
    assert store["scopes"] == [config.dapr_app_id]
    # The front door reserves its IDENTIFY slots in the recorders' state store, under keys every app id shares.
    assert state["scopes"] == [config.dapr_app_id, "pandora-frontdoor"]
    assert metadata(state)["keyPrefix"]["value"] == "name"
    assert pubsub["spec"]["type"] == "pubsub.redis" and pubsub["scopes"] == ["pandora-frontdoor"]
    assert "value" not in metadata(pubsub)["redisPassword"]
    fields = metadata(store)
    assert store["spec"]["type"] == "bindings.aws.s3" and fields["decodeBase64"]["value"] == "true"
    # Credentials only by Secret reference, never as values.
    assert fields["accessKey"] == {"name": "accessKey", "secretKeyRef": {"name": "pandora-s3", "key": "access-key"}}
    assert "value" not in fields["secretKey"]
    assert "value" not in metadata(state)["redisPassword"]
    allowed = dapr[("Configuration", config.dapr_config, "rec")]["spec"]["api"]["allowed"]
    assert {api["name"] for api in allowed} == {"state", "bindings", "metadata"}


def test_component_fields_are_the_ones_the_tests_run_daprd_with():
    reference = {doc["metadata"]["name"]: doc for path in COMPONENTS.glob("*.yaml") for doc in yaml.safe_load_all(
        path.read_text()) if doc}
    assert reference["pandora-objectstore"]["spec"]["type"] == "bindings.aws.s3"
    assert reference["pandora-statestore"]["spec"]["type"] == "state.redis"
    chart = (CHART / "templates" / "dapr-recorder.yaml").read_text()
    for name in ("pandora-objectstore", "pandora-statestore"):
        for field in reference[name]["spec"]["metadata"]:
            assert f"- name: {field['name']}\n" in chart, (name, field["name"])


def test_values_choose_bucket_endpoint_binding_and_namespaces(tmp_path):
    dapr = dapr_docs(helm_template(
        tmp_path, "storage.binding=rec-store", "storage.s3.bucket=audio", "storage.s3.endpoint=http://minio:9000",
        "storage.s3.forcePathStyle=true", "storage.s3.credentialsSecret=null", "stateStore.redis.host=redis:6380",
        "recorder.recorderNamespaces={other}", "dapr.config=rec-config",
    ))
    assert sorted(key[2] for key in dapr) == ["other", "other", "other", "rec", "rec", "rec", "rec"]
    fields = metadata(dapr[("Component", "rec-store", "other")])
    assert fields["bucket"]["value"] == "audio" and fields["endpoint"]["value"] == "http://minio:9000"
    assert fields["forcePathStyle"]["value"] == "true" and "accessKey" not in fields
    assert metadata(dapr[("Component", "pandora-statestore", "rec")])["redisHost"]["value"] == "redis:6380"
    assert metadata(dapr[("Component", "pandora-pubsub", "rec")])["redisHost"]["value"] == "redis:6380"
    assert ("Configuration", "rec-config", "other") in dapr


def test_components_can_be_left_to_the_cluster_admin(tmp_path):
    assert dapr_docs(helm_template(tmp_path, "dapr.components=false")) == {}


@pytest.mark.timeout(90)
def test_a_daprd_with_the_charts_configuration_serves_the_recorder_and_nothing_else(
    tmp_path, testenv_dir, dapr_components, bucket_keys, monkeypatch
):
    """The Configuration as rendered, loaded by a real daprd (`--config`, as the injector does): the Dapr sink
    works through it, while APIs the recorder does not use are refused."""
    from dapr.clients import DaprClient

    from pandora_recorder.sinks.dapr import DaprSink
    from pandora_testenv.processes import start_listening, stop
    from pandora_testenv.services import OBJECT_STORE, _healthz

    if missing_binaries(["daprd"]):
        pytest.skip("daprd is not built: run `.venv/bin/pandora-testenv build`")
    (configuration,) = [doc for doc in helm_template(tmp_path) if doc["kind"] == "Configuration"]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(configuration))
    home = tmp_path / "home"
    home.mkdir()
    # pandora_testenv.services.start_daprd takes no --config; these are its arguments plus that one.
    process, (http, grpc_port, *_) = start_listening(
        "daprd-configured",
        lambda ports: [str(binary_path("daprd")), "--mode=standalone", "--app-id=pandora-recorder",
                       f"--dapr-http-port={ports[0]}", f"--dapr-grpc-port={ports[1]}",
                       f"--dapr-internal-grpc-port={ports[2]}", f"--metrics-port={ports[3]}",
                       "--dapr-listen-addresses=127.0.0.1", f"--resources-path={dapr_components}",
                       "--placement-host-address=", "--scheduler-host-address=", f"--config={config_file}"],
        4, lambda ports: _healthz(ports[0]), testenv_dir, 60, env={"HOME": str(home)}, cwd=home,
        tie_to_parent=True,
    )
    try:
        monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
        monkeypatch.delenv("DAPR_GRPC_ENDPOINT", raising=False)
        monkeypatch.setenv("DAPR_HTTP_PORT", str(http))
        monkeypatch.setenv("DAPR_GRPC_PORT", str(grpc_port))
        sink = DaprSink(DaprClient(), OBJECT_STORE, f"{tmp_path.name}/")
        sink.append("3.ogg.data", b"abc")
        sink.flush()
        sink.save_resume(3, {"dataSize": 3})
        assert sink.wait_stored(timeout=10)  # the uploader thread puts the chunk, then saves the record
        assert sink.read("3.ogg.data") == b"abc" and sink.load_resume(3) == {"dataSize": 3}
        assert bucket_keys(f"{tmp_path.name}/") == [f"{tmp_path.name}/3/3.ogg.data.000000"]  # uploaded
        with pytest.raises(Exception, match="UNIMPLEMENTED"):  # daprd: "requested endpoint is not available"
            sink.client.publish_event("pandora-pubsub", "recordings", b"{}")
        sink.close()
    finally:
        stop(process)
