"""``pandora demo``: record three simulated speakers through the real recorder, offline, and cook the result.

Everything runs in this process: the local Discord simulator (REST, gateway, voice gateway, UDP, DAVE), the
recorder logged in as a simulated bot through the connection contract, and the cooker.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pandora.discord_connection import DiscordConnection
from pandora.logging import configure_logging
from pandora_recorder.commands.record import record
from pandora_recorder.cook import FORMATS, cook_recording
from pandora_recorder.sinks.local import LocalFolderSink
from pandora_recorder.voice import RecorderSession, SessionOptions, SessionState

JOIN_TIMEOUT = 30.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("pandora-demo"), help="folder for raw and cooked files")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each of the two scenes")
    parser.add_argument("--format", default="flac", choices=FORMATS, help="cooked audio format (default: flac)")


def run(args: argparse.Namespace) -> int:
    configure_logging("WARNING")
    return asyncio.run(demo(args.out, args.seconds, args.format))


def say(message: str) -> None:
    print(message, flush=True)


async def demo(out: Path, seconds: float, audio_format: str) -> int:
    from pandora_simulator import DiscordSimulator  # the simulator is a demo/test dependency only

    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Demo Guild", bots=[bot])
        voice = guild.create_voice_channel("General")
        alice, bob, carol = (guild.add_member(name) for name in ("alice", "bob", "carol"))
        await alice.join_voice(voice)
        await bob.join_voice(voice)

        env = sim.connection_env(bot)
        sink = LocalFolderSink(out)
        sessions: list[RecorderSession] = []
        recorder = asyncio.create_task(record(
            env["PANDORA_TOKEN"], sink, SessionOptions(guild_id=guild.id, channel_id=voice.id),
            connection=DiscordConnection.from_env(env), on_session=sessions.append, handle_signals=False,
        ))
        try:
            await _until_recording(sessions, recorder)
            await voice.wait_dave_settled()
            session = sessions[0]
            assert session.writer is not None
            recording_id = session.writer.recording_id
            say(f"recording {recording_id}: alice ({alice.tone_hz:.0f} Hz) and bob ({bob.tone_hz:.0f} Hz) talk")
            await asyncio.gather(alice.speak(seconds=seconds), bob.speak(seconds=seconds))
            say("bob leaves early, carol joins late")
            await bob.leave_voice()
            await carol.join_voice(voice)
            await voice.wait_dave_settled()
            say(f"alice and carol ({carol.tone_hz:.0f} Hz) talk")
            await asyncio.gather(alice.speak(seconds=seconds), carol.speak(seconds=seconds))
            await asyncio.sleep(0.3)  # the last packets are still in flight
            session.request_stop()
            await asyncio.wait_for(recorder, 30)
        finally:
            if not recorder.done():
                recorder.cancel()
            sink.close()

    say(f"cooking recording {recording_id} to {audio_format}")
    result = await asyncio.to_thread(
        cook_recording, LocalFolderSink(out), recording_id, out, audio_format=audio_format, mix=True,
    )
    say(f"raw files:    {out.resolve()}/{recording_id}.ogg.*")
    for path in result.tracks.values():
        say(f"speaker file: {path.resolve()}")
    if result.mix is not None:
        say(f"mix:          {result.mix.resolve()}")
    return 0


async def _until_recording(sessions: list[RecorderSession], recorder: asyncio.Task[object]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + JOIN_TIMEOUT
    while not (sessions and sessions[0].state is SessionState.RECORDING):
        if recorder.done():
            print(f"pandora demo: the recorder stopped before recording ({recorder.result()})", file=sys.stderr)
            raise SystemExit(1)
        if loop.time() > deadline:
            raise TimeoutError("the recorder did not join the simulated voice channel")
        await asyncio.sleep(0.05)
