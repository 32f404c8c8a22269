"""``pandora sim``: run the local Discord simulator as a standalone server.

``pandora sim serve`` stands up a scenario (from flags or a YAML/JSON file, see :mod:`pandora_simulator.scenario`),
prints the environment a Pandora client needs (``export KEY=value`` lines, then ``#`` lines describing the guilds,
channels and members), and serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from pandora.logging import configure_logging
from pandora_simulator.scenario import GuildSpec, MemberSpec, Scenario, build, talk_in_a_loop
from pandora_simulator.simulator import DiscordSimulator


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="run a simulator and print the settings a client needs")
    serve.add_argument("--scenario", type=Path, help="YAML or JSON scenario file (overrides the flags below)")
    serve.add_argument("--bot", action="append", dest="bots", metavar="NAME", help="a bot (repeatable; Pandora)")
    serve.add_argument("--guilds", default="Guild", metavar="A,B,...",
                       help="guilds, each with voice channel General and text channel chat (default: Guild)")
    serve.add_argument("--members", default="", metavar="A,B,...",
                       help="simulated members added to every guild, in voice channel General")
    serve.add_argument("--speak", action="store_true", help="members talk in a loop (2 s on, 1 s off)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="REST and gateway port (default: a free one)")
    serve.add_argument("--voice-port", type=int, default=0, help="voice websocket (TLS) port")
    serve.add_argument("--no-dave", action="store_true", help="transport encryption only")
    serve.add_argument("--env-file", type=Path, help="also write the client settings to this file (KEY=value)")


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    if args.scenario is not None:
        return Scenario.load(args.scenario)
    names = [name.strip() for name in args.members.split(",") if name.strip()]
    members = [MemberSpec(name=name, voice="General", speak=args.speak) for name in names]
    guild_names = [name.strip() for name in args.guilds.split(",") if name.strip()] or ["Guild"]
    guilds = [GuildSpec(name=name, members=list(members)) for name in guild_names]
    return Scenario(bots=args.bots or ["Pandora"], guilds=guilds)


async def serve(args: argparse.Namespace, ready: asyncio.Event | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with DiscordSimulator(args.host, port=args.port, voice_port=args.voice_port, dave=not args.no_dave) as sim:
        built = await build(sim, scenario_from_args(args))
        first, *others = built.bots.values()
        env = sim.connection_env(first)
        lines = [f"export {key}={value}" for key, value in env.items()]
        lines += [f"# bot {bot.name!r} id={bot.id} token={bot.token}" for bot in others]
        lines += [f"# {line}" for line in built.describe()]
        if args.env_file is not None:
            args.env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        print("\n".join(lines), flush=True)
        talkers = [asyncio.create_task(talk_in_a_loop(member)) for member in built.speakers]
        if ready is not None:
            ready.set()
        await stop.wait()
        for task in talkers:
            task.cancel()
    return 0


def run(args: argparse.Namespace) -> int:
    configure_logging()
    if args.action == "serve":
        return asyncio.run(serve(args))
    print(f"unknown action {args.action}", file=sys.stderr)
    return 2
