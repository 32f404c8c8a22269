"""`pandora cook ID [--dir DIR] [--format flac|ogg|opus|wav|mp3] [--mix]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pandora_recorder.commands.damage import EXIT_DAMAGED, EXIT_STATUS_HELP, print_damage, summary
from pandora_recorder.cook import FORMATS, cook_recording
from pandora_recorder.cook.ffmpeg import FfmpegError
from pandora_recorder.sinks import LocalFolderSink


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int, help="numeric recording id (the files are <ID>.ogg.*)")
    parser.add_argument("--dir", default=".", type=Path, help="folder holding the raw recording (default: .)")
    parser.add_argument("--out", type=Path, help="folder for the cooked files (default: --dir)")
    parser.add_argument("--format", default="flac", choices=FORMATS, help="audio format (default: flac)")
    parser.add_argument("--mix", action="store_true", help="also write all speakers mixed into one file")
    parser.epilog = f"Damaged raw files are cooked as far as they can be read. {EXIT_STATUS_HELP}."


def run(args: argparse.Namespace) -> int:
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if not args.dir.is_dir():
        print(f"pandora cook: {args.dir} is not a folder", file=sys.stderr)
        return 1
    try:
        result = cook_recording(
            LocalFolderSink(args.dir), args.id, args.out or args.dir,
            audio_format=args.format, mix=args.mix, progress=progress,
        )
    except (OSError, FfmpegError) as error:
        print(f"pandora cook: {error}", file=sys.stderr)
        return 1
    if not result.tracks:
        print(f"pandora cook: recording {args.id} has no speakers yet", file=sys.stderr)
    for path in result.tracks.values():
        print(path)
    if result.mix:
        print(result.mix)
    if result.invalid_packets:
        print(f"pandora cook: skipped {result.invalid_packets} packets that are not Opus", file=sys.stderr)
    if result.damage:
        print_damage("pandora cook", result.damage)
        print(f"pandora cook: recording {args.id} has {summary(result.damage)} in its raw files; everything else "
              "was cooked", file=sys.stderr)
        return EXIT_DAMAGED
    return 0
