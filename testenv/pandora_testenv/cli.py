"""pandora-testenv: build the local control plane's binaries, start it, stop it.

  pandora-testenv build [COMPONENT ...] [--force]   build (or reuse) pinned binaries in ~/.cache/pandora-testenv
  pandora-testenv up --dir DIR                      start etcd, kube-apiserver, controller-manager, scheduler, kwok;
                                                    writes DIR/kubeconfig; returns when the API and node are ready
  pandora-testenv up --dir DIR --real-node [--dapr] the same plus a real node (containerd, kubelet, kube-proxy,
                                                    bridge pod network, cluster DNS) beside the KWOK one, and
                                                    with --dapr Dapr's control plane on it (needs root)
  pandora-testenv down --dir DIR                    stop everything `up` started under DIR and undo what it
                                                    changed on the host
  pandora-testenv status                            what is cached: versions, cold build times, binary sizes
  pandora-testenv images [IMAGE ...] [--dir DIR]    build (or reuse) the images real pods run, with buildah, into
                                                    ~/.cache/pandora-testenv/images; with --dir, import them into
                                                    that real node's containerd
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pandora_testenv.versions import COMPONENTS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pandora-testenv", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (or reuse) the pinned binaries")
    build.add_argument("components", nargs="*", metavar="COMPONENT", help=f"one of {', '.join(COMPONENTS)}")
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    commands.add_parser("status", help="show cached builds with their cold build times and sizes")
    images = commands.add_parser("images", help="build (or reuse) the recorder, operator, pause and Dapr images")
    images.add_argument("images", nargs="*", metavar="IMAGE", help="pause, recorder, operator or dapr; default all")
    images.add_argument("--dir", type=Path, help="import into the containerd of the real node running in DIR")
    for name, text in (("up", "start the control plane"), ("down", "stop the control plane")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--dir", required=True, type=Path, help="state directory (kubeconfig, logs, pids)")
    commands.choices["up"].add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    commands.choices["up"].add_argument("--real-node", action="store_true", help="add a real node (root)")
    commands.choices["up"].add_argument("--dapr", action="store_true", help="and the Dapr control plane on it")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "build":
        unknown = sorted(set(args.components) - set(COMPONENTS))
        if unknown:
            parser.error(f"unknown component(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}")
        from pandora_testenv.build import main_build

        return main_build(args.components or None, args.force)

    if args.command == "status":
        return _status()

    if args.command == "images":
        return _images(args.images, args.dir)

    from pandora_testenv.controlplane import MissingBinaries, down, up
    from pandora_testenv.processes import StartError
    from pandora_testenv.realnode.cluster import down_with_real_node, has_real_node

    if args.command == "up":
        if args.dapr and not args.real_node:
            parser.error("--dapr needs --real-node (Dapr's control plane runs as pods)")
        started = time.monotonic()
        try:
            if args.real_node:
                plane = _up_real_node(args.dir, args.timeout, args.dapr)
            else:
                plane = up(args.dir, timeout=args.timeout)
        except (MissingBinaries, StartError) as error:
            print(f"pandora-testenv up: {error}", file=sys.stderr)
            return 1
        print(f"control plane ready in {time.monotonic() - started:.1f} s: {plane.server}")
        print(f"export KUBECONFIG={plane.kubeconfig}")
        return 0
    if has_real_node(args.dir):
        down_with_real_node(args.dir)
    else:
        down(args.dir)
    print(f"control plane under {args.dir} stopped")
    return 0


def _up_real_node(directory: Path, timeout: float, dapr: bool):
    from pandora_testenv.processes import StartError
    from pandora_testenv.realnode.buildah import ImageBuildError
    from pandora_testenv.realnode.cluster import up_with_real_node

    try:
        real = up_with_real_node(directory, max(timeout, 180.0), dapr=dapr)
    except ImageBuildError as error:
        raise StartError(str(error)) from error
    print(f"real node {real.node.name} Ready; took " + ", ".join(f"{k} {v} s" for k, v in real.timings.items()))
    return real.plane


def _images(names: list[str], directory: Path | None) -> int:
    from pandora_testenv.realnode.buildah import ImageBuildError
    from pandora_testenv.realnode.images import build_images

    try:
        images = build_images(names or None)
        if directory is not None:
            from pandora_testenv.realnode.node import import_into

            import_into(directory, list(images.values()))
    except ImageBuildError as error:
        print(f"pandora-testenv images: {error}", file=sys.stderr)
        return 1
    return 0


def _status() -> int:
    from pandora_testenv.cache import component_dir, read_stamp

    for component in COMPONENTS.values():
        stamp = read_stamp(component)
        if stamp is None:
            print(f"{component.key}: not built")
            continue
        print(f"{component.key}: built in {stamp['seconds']} s with {stamp['go']} -> {component_dir(component)}/bin")
        for name, binary in stamp["binaries"].items():
            print(f"  {name}: {binary['bytes'] / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
