"""`pandora fetch ID [--out DIR] [--chunks DIR]`: join a recording's chunk objects into the five raw files.

From the object store through a Dapr sidecar (the DAPR_* environment, binding PANDORA_STORAGE_BINDING, prefix
PANDORA_STORAGE_PREFIX), or from a folder holding the chunks copied out of the bucket with any S3 tool. Then
`pandora cook ID --dir DIR`.
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
from pandora_recorder.raw.format import FILE_KINDS, file_name
from pandora_recorder.sinks.chunk_folder import ChunkFolder
from pandora_recorder.sinks.chunked import ChunkedObjectSink


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


def run(args: argparse.Namespace) -> int:
    if args.chunks is not None:
        if not args.chunks.is_dir():
            print(f"pandora fetch: {args.chunks} is not a folder", file=sys.stderr)
            return 1
        sink = ChunkedObjectSink(ChunkFolder(args.chunks), "")
    else:
        from pandora_recorder.sinks.dapr import open_dapr_sink  # loads the Dapr SDK only when used

        sink = open_dapr_sink(args.binding, args.prefix)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        written = 0
        for kind in FILE_KINDS:
            name = file_name(args.id, kind)
            content = sink.read(name)
            if content:
                (args.out / name).write_bytes(content)
                print(args.out / name)
                written += 1
    finally:
        sink.close()
    if not written:
        print(f"pandora fetch: no chunks of recording {args.id}", file=sys.stderr)
        return 1
    return 0
