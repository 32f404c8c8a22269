"""Storage outages lose nothing, on real daprd + Redis + moto S3 (each test with a Redis and a bucket of its own).

The object store goes away for 20 s (its port closed, open connections reset) and the state store too (Redis
stopped, then started again on the same port): four speakers keep talking into the real writer, and afterwards the
bucket holds every frame, byte for byte, in order, while memory stayed under the bound chosen for the test (past it,
audio waited in the spill folder). The five-minute version of these outages is in the chaos harness (`reliability/`).
A recorder stopped during an outage exits 3 naming the spill file, and the next one on the same disk uploads it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from recorder_testkit import simulated_scene
from storage_testkit import OutageStorage, Talkers, speaker_of, tracks_in

from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.raw.format import file_name
from pandora_recorder.sinks.chunked import RETRY_CAP
from pandora_recorder.sinks.spill import ENV_SPILL_DIR
from pandora_simulator.testing import wait_for
from pandora_testenv.cache import missing_binaries
from pandora_testenv.outages import start_outage_stack
from pandora_testenv.services import OBJECT_STORE

pytestmark = [pytest.mark.dapr, pytest.mark.slow, pytest.mark.timeout(180)]

OUTAGE_SECONDS = 20.0
MEMORY_BOUND = 256 * 1024  # ~7 s of four speakers here: a 20 s outage must spill


@pytest.fixture
def storage(testenv_dir, s3_server, tmp_path, monkeypatch):
    if missing_binaries(["daprd"]):
        pytest.skip("daprd is not built: run `.venv/bin/pandora-testenv build`")
    created = OutageStorage(start_outage_stack(testenv_dir, s3_server), tmp_path / "spill")
    for key, value in created.stack.daprd.env().items():
        monkeypatch.setenv(key, value)
    yield created
    created.close()


def record_through(storage, outage_start, outage_end, *, recording_id, before=4.0, after=4.0):
    """Four speakers into a writer on a fresh sink: `before` s, then `outage_start()`, OUTAGE_SECONDS,
    `outage_end()`, `after` s. Returns (talkers, sink, samples of (memory bytes, objects in the bucket))."""
    sink = storage.sink(max_buffer=MEMORY_BOUND)
    writer = RawRecordingWriter(sink, speaker_of, recording_id=recording_id)
    memory: list[int] = []
    talkers = Talkers(writer, watch=lambda: memory.append(sink.memory_bytes()))
    talkers.start()
    time.sleep(before)
    outage_start()
    objects_before = storage.object_count()  # after the cut: an upload on its way may still land
    time.sleep(OUTAGE_SECONDS)
    objects_during = storage.object_count()
    outage_end()
    time.sleep(after)
    talkers.stop()
    writer.close()
    assert sink.wait_stored(timeout=60), "the store took the backlog"
    return talkers, sink, max(memory), objects_during - objects_before


def assert_every_frame_stored(storage, talkers, recording_id):
    files = storage.files(recording_id)
    tracks = tracks_in(files, recording_id)
    assert sorted(tracks) == talkers.users
    for user, sent in talkers.sent.items():
        stored = tracks[user]
        assert [opus for _, opus in stored] == sent  # every frame, byte for byte, in the order sent
        assert [sequence for sequence, _ in stored] == list(range(2, 2 + 2 * len(sent), 2))
    return files


def test_object_store_away_then_back_loses_no_frame_and_memory_stays_bounded(storage, capsys):
    talkers, sink, peak_memory, uploaded_during = record_through(
        storage, storage.stack.link.cut, storage.stack.link.restore, recording_id=7201)
    files = assert_every_frame_stored(storage, talkers, 7201)
    assert uploaded_during == 0  # the outage was real: nothing reached the bucket
    assert len(talkers.sent[talkers.users[0]]) >= (OUTAGE_SECONDS + 6) / 0.02
    assert peak_memory <= MEMORY_BOUND + 4096  # the bound on audio, plus the small metadata files
    assert sink.spilled_bytes > 0 and sink.dropped_bytes == 0
    assert storage.spilled() == []  # uploaded, then removed
    out = capsys.readouterr().out
    assert "object store unreachable; retrying" in out and "object store reachable again" in out
    record = storage.sink().load_resume(7201)  # saved after the backlog: it accounts for the whole file
    assert record["dataSize"] == len(files[file_name(7201, "data")])


def test_state_store_away_then_back_loses_no_frame_and_uploads_go_on(storage, capsys):
    talkers, sink, peak_memory, uploaded_during = record_through(
        storage, storage.stack.redis.stop, storage.stack.redis.start, recording_id=7202)
    files = assert_every_frame_stored(storage, talkers, 7202)
    # Audio kept going up while Redis was away (each round also waits for Redis to fail, then backs off).
    assert uploaded_during >= OUTAGE_SECONDS / RETRY_CAP / 2
    # No backlog builds up: at most the few seconds a call to the absent Redis holds the uploader thread.
    audio_per_second = len(files[file_name(7202, "data")]) / (OUTAGE_SECONDS + 8)
    assert peak_memory < 8 * audio_per_second
    assert sink.spilled_bytes == 0 and sink.dropped_bytes == 0
    out = capsys.readouterr().out
    assert "state store unreachable; retrying" in out and "state store reachable again" in out
    record = storage.sink().load_resume(7202)  # the latest record was saved once Redis was back
    assert record["dataSize"] == len(files[file_name(7202, "data")])


def dapr_recorder_env(scene, storage, spill_dir: Path) -> dict[str, str]:
    """`pandora record`'s environment in a pod: the simulator's connection, the Dapr binding, a spill folder."""
    return {**os.environ, **scene.sim.connection_env(scene.bot), "PANDORA_STORAGE_BINDING": OBJECT_STORE,
            "PANDORA_STORAGE_PREFIX": storage.prefix, ENV_SPILL_DIR: str(spill_dir)}


def record_command(scene, recording_id: int) -> list[str]:
    return [sys.executable, "-m", "pandora.cli", "record", "--guild", str(scene.guild.id),
            "--channel", str(scene.voice.id), "--id", str(recording_id), "--storage", "dapr"]


async def recorder_joined(scene, process) -> None:
    await wait_for(lambda: process.returncode is not None or any(
        c.user_id == scene.bot.id and c.ready_for_media
        for c in scene.sim.voice.room(scene.voice.id).clients.values()), timeout=30,
        what="the recorder to join voice")
    await scene.voice.wait_dave_settled()


async def test_a_recorder_stopped_while_the_object_store_is_away_says_what_it_kept_where(storage, tmp_path):
    """`pandora record` stopped (SIGTERM) during an outage waits --store-wait seconds, exits 3 and names the spill
    file; the next `pandora record` on the same id and disk uploads it, so the recording is complete."""
    recording_id = 7203
    spill_dir = tmp_path / "spill"
    async with simulated_scene() as scene:
        alice = scene.guild.add_member("alice")
        await alice.join_voice(scene.voice)
        env = dapr_recorder_env(scene, storage, spill_dir)
        command = record_command(scene, recording_id)

        async def joined(process):
            await recorder_joined(scene, process)

        first = await asyncio.create_subprocess_exec(
            *command, "--store-wait", "3", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await joined(first)
        await alice.speak(seconds=1.0)
        await asyncio.sleep(1.0)  # uploaded
        storage.stack.link.cut()
        await alice.speak(seconds=1.0)
        first.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(first.communicate(), 30)
        output = stdout.decode() + stderr.decode()
        assert first.returncode == 3, output
        spilled = storage.spilled()
        assert [path.name for path in spilled if ".ogg.data@" in path.name], output
        assert "closed before the object store took every byte" in output
        assert f"of {file_name(recording_id, 'data')} not in the store; kept in {spill_dir}" in output

        storage.stack.link.restore()
        second = await asyncio.create_subprocess_exec(
            *command, "--max-duration", "4", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await joined(second)
        await alice.speak(seconds=0.6)
        stdout, stderr = await asyncio.wait_for(second.communicate(), 30)
        output = stdout.decode() + stderr.decode()
        assert second.returncode == 0, output
        assert "picked up spilled bytes of an earlier recorder" in output
    assert storage.spilled() == []
    tracks = tracks_in(storage.files(recording_id), recording_id)
    assert [opus for _, opus in tracks[alice.id]] == alice.sent_frames  # before, during and after the outage


async def test_a_second_signal_while_the_recorder_waits_for_the_store_ends_the_wait_and_keeps_the_bytes(storage,
                                                                                                      tmp_path):
    spill_dir = tmp_path / "spill"
    log = tmp_path / "recorder.log"
    async with simulated_scene() as scene:
        alice = scene.guild.add_member("alice")
        await alice.join_voice(scene.voice)
        with log.open("wb") as out:
            recorder = await asyncio.create_subprocess_exec(
                *record_command(scene, 7205), "--store-wait", "600", env=dapr_recorder_env(scene, storage, spill_dir),
                cwd=tmp_path, stdout=out, stderr=asyncio.subprocess.STDOUT)
        await recorder_joined(scene, recorder)
        storage.stack.link.cut()
        await alice.speak(seconds=1.0)
        recorder.send_signal(signal.SIGTERM)
        await wait_for(lambda: "saving what is left to the store" in log.read_text(), timeout=30,
                       what="the recorder to wait for the store")
        recorder.send_signal(signal.SIGTERM)  # a user's second Ctrl-C, an impatient script: not 600 s more
        assert await asyncio.wait_for(recorder.wait(), 30) == 3
    output = log.read_text()
    assert "stopped waiting for the store" in output
    assert "Traceback" not in output
    assert f"of {file_name(7205, 'data')} not in the store; kept in {spill_dir}" in output
    assert [path.name for path in storage.spilled() if ".ogg.data@" in path.name], output


def test_a_sink_closed_while_the_state_store_is_away_says_the_resume_record_is_not_saved(storage, capsys):
    sink = storage.sink()
    sink.append("7204.ogg.data", b"audio")
    sink.save_resume(7204, {"dataSize": 0})
    assert sink.wait_stored(timeout=10)
    storage.stack.redis.stop()
    sink.append("7204.ogg.data", b" more")
    sink.save_resume(7204, {"dataSize": 5})
    sink.close(timeout=8)  # each round first checks the owner, and a call to the absent Redis takes seconds
    assert sink.unsaved == []  # every byte is in the bucket: nothing to spill, `pandora record` exits 0
    assert "closed before the state store took the last resume record" in capsys.readouterr().out
    assert storage.files(7204)["7204.ogg.data"] == b"audio more"
    storage.stack.redis.start()
    assert storage.sink().load_resume(7204) == {"dataSize": 0}  # the older record: a resume re-reads the rest
