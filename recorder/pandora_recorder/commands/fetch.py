"""`pandora fetch ID [--out DIR] [--chunks DIR]`: join a recording's chunk objects into the five raw files.

From the object store through a Dapr sidecar (the DAPR_* environment, binding PANDORA_STORAGE_BINDING, prefix
PANDORA_STORAGE_PREFIX), or from a folder holding the chunks copied out of the bucket with any S3 tool. Then
`pandora cook ID --dir DIR`. The files are written as stored; damage found on the way is reported (and `pandora
cook` skips it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pandora.recording_api.recorder import (
    DEFAULT_STORAGE_BINDING,
    DEFAULT_STORAGE_PREFIX,
    ENV_STORAGE_BINDING,
    ENV_STORAGE_PREFIX,
    RecorderEnv,
)
from pandora_recorder.commands.damage import EXIT_DAMAGED, EXIT_STATUS_HELP, print_damage, summary
from pandora_recorder.sinks.chunk_folder import ChunkFolder
from pandora_recorder.sinks.joined import join_recording
from pandora_recorder.sinks.objects import ObjectStore


def configure(parser: argparse.ArgumentParser) -> None:
    env = RecorderEnv.from_environ(os.environ)
    parser.add_argument("id", type=int, help="numeric recording id")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the joined files (default: .)")
    parser.add_argument("--chunks", type=Path, metavar="DIR",
                        help="a folder with the recording's chunk objects (<ID>.ogg.<kind>.<n>) instead of Dapr")
    parser.add_argument("--binding", default=env.binding,
                        help=f"Dapr binding (default: ${ENV_STORAGE_BINDING} or {DEFAULT_STORAGE_BINDING})")
    parser.add_argument("--prefix", default=env.storage_prefix,
                        help=f"key prefix (default: ${ENV_STORAGE_PREFIX} or {DEFAULT_STORAGE_PREFIX})")
    parser.epilog = EXIT_STATUS_HELP + "."


def run(args: argparse.Namespace) -> int:
    if args.chunks is not None:
        if not args.chunks.is_dir():
            print(f"pandora fetch: {args.chunks} is not a folder", file=sys.stderr)
            return 1
        return _fetch(ChunkFolder(args.chunks), "", args)
    from pandora_recorder.sinks.dapr import open_dapr_sink  # loads the Dapr SDK only when used

    sink = open_dapr_sink(args.binding, args.prefix)
    try:
        return _fetch(sink.objects, sink.prefix, args)
    finally:
        sink.close()


def _fetch(objects: ObjectStore, prefix: str, args: argparse.Namespace) -> int:
    try:
        files = join_recording(objects, prefix, args.id)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, file in files.items():
            (args.out / name).write_bytes(file.content)
            print(args.out / name)
    except OSError as error:
        print(f"pandora fetch: {error}", file=sys.stderr)
        return 1
    if not files:
        print(f"pandora fetch: no chunks of recording {args.id}", file=sys.stderr)
        return 1
    damage = [place for file in files.values() for place in file.damage]
    if damage:
        for file in files.values():
            print_damage("pandora fetch", file.damage, file.where)
        print(f"pandora fetch: recording {args.id} has {summary(damage)} in storage; the files are written as "
              f"stored, and `pandora cook` skips what cannot be read", file=sys.stderr)
        return EXIT_DAMAGED
    return 0
