"""The images real pods run, built with buildah (no Docker, no registry) and cached as OCI archives.

  recorder  Dockerfile.recorder, unchanged (`docker build` works the same on a normal machine)
  operator  Dockerfile.operator, unchanged
  pause     the pod sandbox: files/pause.c, compiled statically
  dapr      daprd, operator, sentry and injector from the pinned dapr build, one static binary per image, named
            as Dapr's own chart expects (`<registry>/<name>:<tag>`)

Each image is cached in `<cache>/images/archives/<name>-<hash>.tar` (hash of its inputs, see context.py) with a
`.json` record (reference, size, build time). A cached image is not rebuilt; a changed input rebuilds only that
image, and buildah's layer cache keeps unchanged layers. The node imports the archives into its containerd.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pandora_testenv.cache import component_dir, is_built, stamp_path
from pandora_testenv.realnode.base import ensure_base
from pandora_testenv.realnode.buildah import Buildah, ImageBuildError, files, images_dir
from pandora_testenv.realnode.context import build_hash, files_hash
from pandora_testenv.versions import COMPONENTS, DAPR_VERSION

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
DAPR_REGISTRY = "localhost/pandora-testenv/dapr"
# Repositories of the images built here: a node drops versions of them that are no longer cached.
OWN_REPOSITORIES = ("localhost/pandora/", "localhost/pandora-testenv/")
DAPR_TAG = DAPR_VERSION.lstrip("v")
# Dapr image name (as Dapr's chart names it) -> binary of the daprd component.
DAPR_IMAGES = {"daprd": "daprd", "operator": "dapr-operator", "sentry": "dapr-sentry", "injector": "dapr-injector"}
# Dapr's chart runs its control plane with runAsNonRoot: the images say which user (distroless' "nonroot").
DAPR_USER = "65532:65532"


@dataclass(frozen=True)
class Image:
    name: str
    ref: str
    archive: Path
    bytes: int
    seconds: float
    cached: bool

    @property
    def repository(self) -> str:
        return self.ref.rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.ref.rsplit(":", 1)[1]


def checkout_root() -> Path:
    """The checkout testenv is installed (editable) from: the build context of the project's Dockerfiles."""
    return Path(__file__).resolve().parents[3]


def archives_dir() -> Path:
    return images_dir() / "archives"


def _record_path(name: str, digest: str) -> Path:
    return archives_dir() / f"{name}-{digest[:16]}.json"


def _cached(name: str, digest: str) -> Image | None:
    record = _record_path(name, digest)
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    archive = Path(data["archive"])
    if not archive.is_file():
        return None
    return Image(name, data["ref"], archive, data["bytes"], data["seconds"], cached=True)


def _store(buildah: Buildah, name: str, ref: str, digest: str, started: float) -> Image:
    """Export a freshly built image, record it and drop older archives of the same image."""
    archives_dir().mkdir(parents=True, exist_ok=True)
    for old in archives_dir().glob(f"{name}-*"):
        if old.suffix == ".json" and (old_ref := json.loads(old.read_text()).get("ref")) not in (None, ref):
            buildah.remove_image(old_ref)  # the layers the new image shares stay
        old.unlink()
    archive = archives_dir() / f"{name}-{digest[:16]}.tar"
    buildah.export(ref, archive)
    image = Image(name, ref, archive, buildah.image_size(ref), round(time.monotonic() - started, 1), cached=False)
    record = {"ref": ref, "archive": str(archive), "bytes": image.bytes, "seconds": image.seconds, "hash": digest}
    _record_path(name, digest).write_text(json.dumps(record, indent=2) + "\n")
    return image


def build_dockerfile_image(
    buildah: Buildah, name: str, dockerfile: str, base_id: str, target: str | None = None
) -> Image:
    context = checkout_root()
    digest = build_hash(context, context / dockerfile, target, base_id)
    cached = _cached(name, digest)
    if cached:
        return cached
    started = time.monotonic()
    ref = f"localhost/pandora/{name}:{digest[:12]}"
    pip_conf = buildah.etc / "pip.conf"
    pip_conf.write_text(files("pip.conf"))
    args = [
        "bud", "--pull=never", "--layers", "--network", "host",
        # PyPI through this machine's egress: trust its CA bundle during RUN steps only (mounts never land in a
        # layer).
        "-v", f"{pip_conf}:/etc/pip.conf:ro", "-v", f"{HOST_CA}:/run/host-ca-bundle.crt:ro",
        "-f", dockerfile, "-t", ref,
    ]
    if target:
        args += ["--target", target]
    buildah.run(*args, ".", cwd=context)
    return _store(buildah, name, ref, digest, started)


def build_pause_image(buildah: Buildah) -> Image:
    source = buildah.root / "pause" / "pause.c"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(files("pause.c"))
    digest = files_hash([source])
    cached = _cached("pause", digest)
    if cached:
        return cached
    started = time.monotonic()
    binary = source.with_suffix("")
    compiler = shutil.which("gcc")
    if compiler is None:
        raise ImageBuildError("gcc missing: the pause image is a static C program (scripts/setup installs gcc)")
    subprocess.run([compiler, "-Os", "-static", "-s", "-o", str(binary), str(source)], check=True)
    ref = f"localhost/pandora-testenv/pause:{digest[:12]}"
    buildah.scratch_image(ref, {binary: "/pause"}, ["/pause"])
    return _store(buildah, "pause", ref, digest, started)


def build_dapr_images(buildah: Buildah) -> list[Image]:
    component = COMPONENTS["daprd"]
    if not is_built(component):
        raise ImageBuildError("the Dapr binaries are not built: run `.venv/bin/pandora-testenv build daprd`")
    bin_dir = component_dir(component) / "bin"
    built = []
    for image_name, binary in DAPR_IMAGES.items():
        digest = files_hash([stamp_path(component)], extra=image_name)
        cached = _cached(f"dapr-{image_name}", digest)
        if cached:
            built.append(cached)
            continue
        started = time.monotonic()
        ref = f"{DAPR_REGISTRY}/{image_name}:{DAPR_TAG}"
        # Dapr's chart starts each with `command: ["/<image name>"]`.
        buildah.scratch_image(ref, {bin_dir / binary: f"/{image_name}"}, [f"/{image_name}"], user=DAPR_USER)
        built.append(_store(buildah, f"dapr-{image_name}", ref, digest, started))
    return built


IMAGE_NAMES = ["pause", "recorder", "operator", "dapr"]


def build_images(names: list[str] | None = None, echo: Callable[[str], None] = print) -> dict[str, Image]:
    """Build (or reuse) the named images, default all; returns them by name (dapr ones as dapr-<name>)."""
    buildah = Buildah()
    try:
        return _build(buildah, names or IMAGE_NAMES, echo)
    finally:
        buildah.remove_containers()


def _build(buildah: Buildah, selected: list[str], echo: Callable[[str], None]) -> dict[str, Image]:
    images: dict[str, Image] = {}
    base_id = ""
    if {"recorder", "operator"} & set(selected):
        base = ensure_base(buildah, echo)
        base_id = base["id"]
        if base["how"] != "present":
            echo(f"images: base {base['image']} ({base['how']}) in {base.get('seconds', 0)} s")
    for name in selected:
        if name == "pause":
            built = [build_pause_image(buildah)]
        elif name == "dapr":
            built = build_dapr_images(buildah)
        elif name in ("recorder", "operator"):
            built = [build_dockerfile_image(buildah, name, f"Dockerfile.{name}", base_id)]
        else:
            raise ImageBuildError(f"unknown image {name}; choose from {', '.join(IMAGE_NAMES)}")
        for image in built:
            state = "cached" if image.cached else f"built in {image.seconds} s"
            echo(f"images: {image.name}: {image.ref} {state}, {image.bytes / 1e6:.0f} MB")
            images[image.name] = image
    return images


def cached_images() -> list[Image]:
    """Every image with a current archive (what a node imports)."""
    found = []
    for record in sorted(archives_dir().glob("*.json")):
        data = json.loads(record.read_text())
        if Path(data["archive"]).is_file():
            found.append(Image(record.stem.rsplit("-", 1)[0], data["ref"], Path(data["archive"]), data["bytes"],
                               data["seconds"], cached=True))
    return found
