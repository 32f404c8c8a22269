"""End to end: `pandora record`'s code path records two simulated speakers into the Dapr sink; the chunks in the
bucket, joined, are a valid raw recording whose tracks hold exactly what each speaker sent."""

from __future__ import annotations

import asyncio
import os
import re
import struct
import sys
import zlib
from collections import defaultdict

import pytest
from recorder_testkit import recorded_tracks, simulated_scene
from storage_testkit import joined_chunks

from pandora.discord_connection import DiscordConnection
from pandora_recorder.commands.record import record
from pandora_recorder.cook import cook_recording
from pandora_recorder.raw.format import file_name
from pandora_recorder.raw.ogg import read_pages
from pandora_recorder.voice import SessionOptions, SessionState
from pandora_simulator.testing import wait_for
from pandora_testenv.services import OBJECT_STORE

RECORDING_ID = 731_000_042


async def record_while(scene, sink, action) -> None:
    """`pandora record`'s code path (minus signal handlers) into `sink` while `action()` runs; then stop."""
    env = scene.sim.connection_env(scene.bot)
    sessions = []
    task = asyncio.create_task(record(
        env["PANDORA_TOKEN"], sink,
        SessionOptions(guild_id=scene.guild.id, channel_id=scene.voice.id, recording_id=RECORDING_ID),
        connection=DiscordConnection.from_env(env), on_session=sessions.append, handle_signals=False,
    ))
    await wait_for(lambda: task.done() or (sessions and sessions[0].state is SessionState.RECORDING),
                   timeout=10, what="the recorder to join voice")
    await scene.voice.wait_dave_settled()
    await action()
    sessions[0].request_stop()
    await asyncio.wait_for(task, 20)
    sink.close()


def assert_valid_raw_recording(files: dict[str, bytes], tracks: int = 2) -> None:
    """Nothing torn, every page CRC right (zlib CRC-32 with the field zeroed), each track's sequence 2, 3, ..."""
    data = files[file_name(RECORDING_ID, "data")]
    pages = list(read_pages(data))
    assert sum(page.size for page in pages) == len(data) > 0
    sequences: dict[int, list[int]] = defaultdict(list)
    for page in pages:
        raw = bytearray(data[page.offset : page.offset + page.size])
        struct.pack_into("<I", raw, 22, 0)
        assert zlib.crc32(raw) == page.crc
        sequences[page.serial].append(page.sequence)
    assert sorted(sequences) == list(range(1, tracks + 1))
    for sequence in sequences.values():
        assert sequence == list(range(2, 2 + len(sequence)))
    for kind in ("header1", "header2"):
        assert sorted(page.serial for page in read_pages(files[file_name(RECORDING_ID, kind)])) == list(
            range(1, tracks + 1))


@pytest.mark.timeout(60)
async def test_recorder_writes_two_speakers_into_dapr_chunks(dapr_sink_factory, dapr_prefix, s3_server, tmp_path):
    async with simulated_scene() as scene:
        alice, bob = scene.guild.add_member("alice"), scene.guild.add_member("bob")
        await alice.join_voice(scene.voice)
        await bob.join_voice(scene.voice)

        async def talk():
            await alice.speak(seconds=0.8)
            await bob.speak(seconds=0.8)
            await alice.speak(seconds=0.4)

        await record_while(scene, dapr_sink_factory(), talk)

    files = joined_chunks(s3_server, f"{dapr_prefix}{RECORDING_ID}/")
    assert sorted(files) == sorted(file_name(RECORDING_ID, kind)
                                   for kind in ("header1", "header2", "users", "data", "info"))
    data = files[file_name(RECORDING_ID, "data")]
    assert dapr_sink_factory().read(file_name(RECORDING_ID, "data")) == data
    assert_valid_raw_recording(files)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    tracks = recorded_tracks(tmp_path, RECORDING_ID)
    assert tracks[alice.id] == alice.sent_frames
    assert tracks[bob.id] == bob.sent_frames
    # A flush every half second: a 2 s recording is several data chunks, not one object written at the end.
    data_chunks = s3_server.client().list_objects(
        Bucket=s3_server.bucket, Prefix=f"{dapr_prefix}{RECORDING_ID}/{file_name(RECORDING_ID, 'data')}.")
    assert len(data_chunks["Contents"]) >= 3
    # The cook tools take any Sink: cooking straight from the object store gives one audio file per speaker.
    cooked = cook_recording(dapr_sink_factory(), RECORDING_ID, tmp_path / "cooked", audio_format="wav")
    assert sorted(cooked.tracks) == [1, 2]
    assert all(path.stat().st_size > 48_000 for path in cooked.tracks.values())  # > 0.25 s of 48 kHz audio


@pytest.mark.timeout(90)
async def test_a_restarted_recorder_continues_the_same_files_chunks_and_sequences(dapr_sink_factory, dapr_prefix,
                                                                                   s3_server, tmp_path):
    async with simulated_scene() as scene:
        alice, bob = scene.guild.add_member("alice"), scene.guild.add_member("bob")
        await alice.join_voice(scene.voice)
        await bob.join_voice(scene.voice)
        await record_while(scene, dapr_sink_factory(), lambda: alice.speak(seconds=0.6))
        before = joined_chunks(s3_server, f"{dapr_prefix}{RECORDING_ID}/")

        async def talk_again():
            await bob.speak(seconds=0.6)
            await alice.speak(seconds=0.4)

        # The pod's replacement: a new process (fresh sink, same id) resumes from the bucket and the state store.
        await record_while(scene, dapr_sink_factory(), talk_again)

    files = joined_chunks(s3_server, f"{dapr_prefix}{RECORDING_ID}/")
    assert_valid_raw_recording(files)
    for kind in ("info", "header1"):  # alice's track-1 pages and the metadata of the first run are kept as they were
        name = file_name(RECORDING_ID, kind)
        assert files[name].startswith(before[name])
    assert files[file_name(RECORDING_ID, "data")].startswith(before[file_name(RECORDING_ID, "data")])
    numbers: dict[str, list[int]] = defaultdict(list)
    for item in s3_server.client().list_objects(Bucket=s3_server.bucket, Prefix=dapr_prefix)["Contents"]:
        folder, name, number = re.fullmatch(r"(.*/)([^/]+)\.(\d{6,})", item["Key"]).groups()
        assert folder == f"{dapr_prefix}{RECORDING_ID}/"
        numbers[name].append(int(number))
    for found in numbers.values():
        assert sorted(found) == list(range(len(found)))
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    tracks = recorded_tracks(tmp_path, RECORDING_ID)
    assert tracks[alice.id] == alice.sent_frames  # both runs' frames, in order, in one track
    assert tracks[bob.id] == bob.sent_frames


@pytest.mark.timeout(90)
async def test_pandora_record_in_a_pod_environment_records_into_dapr(dapr_env, dapr_prefix, s3_server, tmp_path):
    """The command itself, as the operator runs it: the environment names the binding and prefix, a sidecar
    answers, so `--storage auto` picks Dapr, logs where it writes, and leaves the working directory empty."""
    async with simulated_scene() as scene:
        alice = scene.guild.add_member("alice")
        await alice.join_voice(scene.voice)
        env = {**os.environ, **scene.sim.connection_env(scene.bot), "PANDORA_STORAGE_BINDING": OBJECT_STORE,
               "PANDORA_STORAGE_PREFIX": dapr_prefix}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pandora.cli", "record", "--guild", str(scene.guild.id),
            "--channel", str(scene.voice.id), "--id", str(RECORDING_ID), "--max-duration", "3",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        await wait_for(lambda: scene.guild.voice_channel_of(scene.bot.id) == scene.voice.id, timeout=20,
                       what="the recorder to join voice")
        await scene.voice.wait_dave_settled()
        await alice.speak(seconds=0.6)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    output = stdout.decode() + stderr.decode()
    assert process.returncode == 0, output
    assert stdout.decode().splitlines()[0] == str(RECORDING_ID)
    location = f"dapr://{OBJECT_STORE}/{dapr_prefix}{RECORDING_ID}/"
    assert "recording storage" in output and "storage=DaprSink" in output and location in output
    assert list(tmp_path.iterdir()) == []  # nothing local: the pod's root filesystem is read-only
    files = joined_chunks(s3_server, f"{dapr_prefix}{RECORDING_ID}/")
    assert_valid_raw_recording(files, tracks=1)


@pytest.mark.timeout(90)
async def test_a_recorder_whose_recording_is_taken_over_stops_cleanly(dapr_sink_factory, dapr_prefix, s3_server):
    """Two recorders must never interleave one recording: when another one resumes the same id, this one stops
    with a storage failure (so its pod exits non-zero), still leaves voice and restores its nickname, and what
    it had uploaded stays in the bucket."""
    from pandora_recorder.raw import RawRecordingWriter
    from pandora_recorder.voice import StopReason

    async with simulated_scene() as scene:
        alice = scene.guild.add_member("alice")
        await alice.join_voice(scene.voice)
        env = scene.sim.connection_env(scene.bot)
        sessions = []
        task = asyncio.create_task(record(
            env["PANDORA_TOKEN"], dapr_sink_factory(),
            SessionOptions(guild_id=scene.guild.id, channel_id=scene.voice.id, recording_id=RECORDING_ID),
            connection=DiscordConnection.from_env(env), on_session=sessions.append, handle_signals=False,
        ))
        await wait_for(lambda: sessions and sessions[0].state is SessionState.RECORDING, timeout=10,
                       what="the recorder to join voice")
        await scene.voice.wait_dave_settled()
        await alice.speak(seconds=0.6)
        await asyncio.sleep(0.6)  # a flush interval: alice's frames are in the bucket
        uploaded = joined_chunks(s3_server, f"{dapr_prefix}{RECORDING_ID}/")[file_name(RECORDING_ID, "data")]

        other = await asyncio.to_thread(RawRecordingWriter, dapr_sink_factory(), sessions[0].speaker_of,
                                        recording_id=RECORDING_ID)
        await alice.speak(seconds=0.4)
        reason = await asyncio.wait_for(task, 20)
        await asyncio.to_thread(other.close)
        assert reason is StopReason.STORAGE_FAILED
        assert sessions[0].state is SessionState.FAILED
        assert scene.guild.voice_channel_of(scene.bot.id) is None
        assert scene.guild.bot_nickname(scene.bot) is None
    files = joined_chunks(s3_server, f"{dapr_prefix}{RECORDING_ID}/")
    assert files[file_name(RECORDING_ID, "data")].startswith(uploaded)
    assert_valid_raw_recording(files, tracks=1)
