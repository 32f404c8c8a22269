"""The harness's token scan finds a bot token wherever it is in what was collected, whole or cut at its last dot,
and leaves out the folders that hold it by design."""

from __future__ import annotations

from pandora_simulator.model import new_bot_token
from token_scan import leaks, scanned_files


def test_a_token_in_any_collected_file_is_found_with_its_line(tmp_path):
    token = new_bot_token(1234567890)
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "recorder-01.log").write_text(f"starting\nlogin token={token}\nrecording\n")
    (tmp_path / "harness.log").write_text("nothing here\n")
    (tmp_path / "crash.txt").write_bytes(b"\x00binary\n" + token.rsplit(".", 1)[1].encode() + b"\n")
    found = leaks([tmp_path], [token])
    assert found == [f"{tmp_path / 'crash.txt'}:2", f"{tmp_path / 'scenario' / 'recorder-01.log'}:2"]


def test_a_redacted_log_and_the_folders_skipped_are_clean(tmp_path):
    token = new_bot_token(1234567890)
    etcd = tmp_path / "controlplane" / "etcd"
    etcd.mkdir(parents=True)
    (etcd / "db").write_text(token)  # the bot pool Secret, stored by design
    prefix = token.split(".", 1)[0]
    (tmp_path / "operator.log").write_text(f"bot alpha token={prefix}.**redacted**\n")
    assert leaks([tmp_path], [token], skip=[etcd]) == []
    assert scanned_files([tmp_path], skip=[etcd]) == 1
