"""`pandora record --storage`: which sink a recorder writes to, and the location it reports."""

import argparse
import socket

import pytest

from pandora_operator.config import OperatorConfig
from pandora_recorder.commands import record as record_command
from pandora_recorder.commands.record import open_storage
from pandora_recorder.sinks import LocalFolderSink
from pandora_recorder.sinks.dapr import DaprSink
from pandora_testenv.services import OBJECT_STORE


def test_in_a_pod_with_a_sidecar_auto_picks_dapr_at_the_location_the_operator_reports(dapr_env, monkeypatch,
                                                                                      tmp_path):
    monkeypatch.setenv("PANDORA_STORAGE_BINDING", OBJECT_STORE)
    monkeypatch.setenv("PANDORA_STORAGE_PREFIX", "recordings/")
    sink, where = open_storage("auto", tmp_path / "out")
    try:
        assert isinstance(sink, DaprSink)
        assert where(872660673) == OperatorConfig().location(OBJECT_STORE, "recordings/", "872660673")
        assert not (tmp_path / "out").exists()  # nothing on the (read-only in a pod) local filesystem
    finally:
        sink.close()


def test_local_is_used_without_a_binding_or_when_asked(dapr_env, monkeypatch, tmp_path):
    monkeypatch.delenv("PANDORA_STORAGE_BINDING", raising=False)
    sink, where = open_storage("auto", tmp_path / "a")
    assert isinstance(sink, LocalFolderSink) and where(1) == str(tmp_path / "a")
    monkeypatch.setenv("PANDORA_STORAGE_BINDING", OBJECT_STORE)
    sink, _ = open_storage("local", tmp_path / "b")
    assert isinstance(sink, LocalFolderSink) and (tmp_path / "b").is_dir()


def test_a_binding_without_a_reachable_sidecar_falls_back_to_local_loudly(monkeypatch, tmp_path, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.delenv("DAPR_HTTP_ENDPOINT", raising=False)
    monkeypatch.setenv("DAPR_HTTP_PORT", str(port))
    monkeypatch.setenv("PANDORA_STORAGE_BINDING", OBJECT_STORE)
    monkeypatch.setattr(record_command, "DAPR_PROBE_SECONDS", 0.5)
    sink, _ = open_storage("auto", tmp_path / "out")
    assert isinstance(sink, LocalFolderSink)
    assert "no Dapr sidecar answers" in capsys.readouterr().out


def test_the_flag_defaults_to_auto_and_knows_its_choices():
    parser = argparse.ArgumentParser()
    record_command.configure(parser)
    assert parser.parse_args(["--guild", "1", "--channel", "2"]).storage == "auto"
    assert parser.parse_args(["--guild", "1", "--channel", "2", "--storage", "dapr"]).storage == "dapr"
    with pytest.raises(SystemExit):
        parser.parse_args(["--guild", "1", "--channel", "2", "--storage", "s3"])
