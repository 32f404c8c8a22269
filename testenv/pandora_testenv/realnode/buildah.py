"""buildah with the test environment's own image storage (`<cache>/images/storage`) and defaults, never the
machine's (`/var/lib/containers`): builds leave nothing outside the cache."""

from __future__ import annotations

import json
import os
import subprocess
from importlib import resources
from pathlib import Path

from pandora_testenv.cache import cache_root

BUILDAH = "/usr/bin/buildah"


class ImageBuildError(RuntimeError):
    pass


def images_dir() -> Path:
    return cache_root() / "images"


def files(name: str) -> str:
    """A file shipped in pandora_testenv/realnode/files/."""
    return resources.files("pandora_testenv.realnode").joinpath("files", name).read_text()


class Buildah:
    def __init__(self, root: Path | None = None, log: Path | None = None) -> None:
        self.root = root or images_dir()
        self.etc = self.root / "etc"
        self.log = log or self.root / "build.log"
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "storage.conf").write_text(files("storage.conf").replace("@IMAGES@", str(self.root)))
        (self.etc / "containers.conf").write_text(files("containers.conf"))
        self.env = {
            **os.environ,
            "CONTAINERS_STORAGE_CONF": str(self.etc / "storage.conf"),
            "CONTAINERS_CONF": str(self.etc / "containers.conf"),
            # buildah reads registries.conf and policy.json from /etc/containers (Debian's defaults): fine.
        }

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 1800) -> str:
        """Run buildah; stdout returned, stderr appended to the build log; raise with the log tail on failure."""
        if not Path(BUILDAH).exists():
            raise ImageBuildError(f"{BUILDAH} missing: install Debian's buildah (scripts/setup does, as root)")
        with self.log.open("a") as out:
            out.write(f"$ buildah {' '.join(args)}\n")
            out.flush()
            result = subprocess.run(
                [BUILDAH, *args], cwd=cwd, env=self.env, stdout=subprocess.PIPE, stderr=out, text=True,
                timeout=timeout,
            )
        if result.returncode != 0:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])
            raise ImageBuildError(f"buildah {args[0]} failed (exit {result.returncode}); log {self.log}:\n{tail}")
        return result.stdout

    def image_id(self, ref: str) -> str | None:
        result = subprocess.run(
            [BUILDAH, "inspect", "--type", "image", "--format", "{{.FromImageID}}", ref],
            env=self.env, capture_output=True, text=True,
        )
        if result.returncode != 0:
            return None
        return result.stdout.strip() or None

    def image_size(self, ref: str) -> int:
        """Uncompressed bytes of the image's layers (what `docker images` calls its size), from the storage's own
        records: `buildah images` prints it rounded ("124 MB")."""
        storage = self.root / "storage"
        images = json.loads((storage / "overlay-images" / "images.json").read_text())
        layers = {layer["id"]: layer for layer in json.loads((storage / "overlay-layers" / "layers.json").read_text())}
        image = next((image for image in images if ref in image.get("names", [])), None)
        if image is None:
            raise ImageBuildError(f"{ref} not in {storage}")
        size, layer_id = 0, image.get("layer")
        while layer_id:
            size += int(layers[layer_id].get("diff-size", 0))
            layer_id = layers[layer_id].get("parent")
        return size

    def remove_image(self, ref: str) -> None:
        subprocess.run([BUILDAH, "rmi", "-f", ref], env=self.env, capture_output=True)

    def scratch_image(
        self, ref: str, copies: dict[Path, str], entrypoint: list[str], user: str | None = None, mode: str = "0755"
    ) -> None:
        """An image of just these files (host path -> image path), e.g. one static binary."""
        container = self.run("from", "scratch").strip()
        try:
            for source, target in copies.items():
                self.run("copy", "--chmod", mode, container, str(source), target)
            config = ["config", "--entrypoint", json.dumps(entrypoint), "--os", "linux", "--arch", "amd64"]
            if user:
                config += ["--user", user]
            self.run(*config, container)
            self.run("commit", "-q", "--rm", container, ref)
        except BaseException:
            subprocess.run([BUILDAH, "rm", container], env=self.env, capture_output=True)
            raise

    def remove_containers(self) -> None:
        """Working containers a build left behind (none should outlive a build in this private storage); with
        them go their overlay mounts, and the storage's own bind mount once nothing is mounted."""
        subprocess.run([BUILDAH, "rm", "--all"], env=self.env, capture_output=True)

    def export(self, ref: str, archive: Path) -> None:
        """An OCI archive containerd can import; the full reference is kept as the image name."""
        archive.unlink(missing_ok=True)
        self.run("push", "-q", ref, f"oci-archive:{archive}:{ref}")
