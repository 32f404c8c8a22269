"""``pandora demo``: three simulated speakers recorded by the real recorder, then cooked."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from recorder_testkit import recorded_tracks

from pandora_recorder.raw.format import file_name, parse_users
from pandora_simulator.audio import dominant_tone, tone_for


async def test_demo_records_three_speakers_and_cooks_them(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pandora.cli", "demo", "--out", str(out), "--seconds", "1", "--format", "ogg",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    speaker_files = [Path(line.split(": ", 1)[1].strip()) for line in lines if line.startswith("speaker file:")]
    mix = [Path(line.split(": ", 1)[1].strip()) for line in lines if line.startswith("mix:")]
    # Tracks are numbered by first packet; alice and bob start together, so either may be track 1.
    assert sorted(path.name.split("-", 2)[2] for path in speaker_files) == ["alice.ogg", "bob.ogg", "carol.ogg"]
    assert all(path.stat().st_size > 1000 for path in [*speaker_files, *mix])

    recording_id = int(speaker_files[0].name.split("-")[0])
    users = parse_users((out / file_name(recording_id, "users")).read_bytes())
    names = {int(user["id"]): user["name"] for user in users.values()}
    tracks = recorded_tracks(out, recording_id)
    tones = [tone_for(index) for index in range(3)]
    heard = {names[user_id]: dominant_tone(frames, tones) for user_id, frames in tracks.items()}
    assert heard == {"alice": tones[0], "bob": tones[1], "carol": tones[2]}  # each track holds its speaker
    assert [len(tracks[user_id]) for user_id in sorted(tracks, key=lambda u: names[u])] == [100, 50, 50]
