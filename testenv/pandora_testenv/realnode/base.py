"""The base image the project's Dockerfiles start from, `python:3.11-slim-bookworm`.

Pulled when a registry answers. Where none does (machines here reach Debian's mirror, PyPI and the Go proxy, but
no container registry), a stand-in is made locally: `debootstrap --variant=minbase` of bookworm with python3,
trimmed the way Debian's official `-slim` images are, committed with buildah and tagged with the official name, so
`FROM python:3.11-slim-bookworm` builds unchanged with `--pull=never`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from pandora_testenv.realnode.buildah import Buildah, ImageBuildError, files

BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
DEBIAN_PYTHON = "localhost/pandora-testenv/debian-python:bookworm"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
SOURCES = Path("/etc/apt/sources.list.d")

# Debian's official images keep no apt caches or package lists (their "docker-clean" apt configuration).
_DROP_DEBS = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"'
APT_CLEAN = (
    f"DPkg::Post-Invoke {{ {_DROP_DEBS}; }};\n"
    f"APT::Update::Post-Invoke {{ {_DROP_DEBS}; }};\n"
    'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
)


def ensure_base(buildah: Buildah, echo=print) -> dict:
    """Make BASE_IMAGE available in buildah's storage; say how (present, pulled or stand-in) and its image id."""
    image_id = buildah.image_id(BASE_IMAGE)
    if image_id:
        return {"image": BASE_IMAGE, "id": image_id, "how": "present"}
    started = time.monotonic()
    try:
        buildah.run("pull", "-q", BASE_IMAGE, timeout=600)
        how = "pulled"
    except ImageBuildError:
        echo(f"images: {BASE_IMAGE} cannot be pulled here; making a stand-in with debootstrap")
        make_standin(buildah)
        how = "stand-in"
    image_id = buildah.image_id(BASE_IMAGE)
    if not image_id:
        raise ImageBuildError(f"{BASE_IMAGE} is still missing after {how}")
    return {"image": BASE_IMAGE, "id": image_id, "how": how, "seconds": round(time.monotonic() - started, 1)}


def debian_mirror() -> str:
    """The first Debian mirror this machine's apt uses."""
    for source in sorted(SOURCES.glob("*.sources")):
        found = re.search(r"^URIs:\s*(\S+)", source.read_text(), re.MULTILINE)
        if found and "security" not in found.group(1):
            return found.group(1)
    raise ImageBuildError(f"no Debian mirror found in {SOURCES}/*.sources")


def make_standin(buildah: Buildah) -> None:
    if not Path(DEBOOTSTRAP).exists():
        raise ImageBuildError(f"{DEBOOTSTRAP} missing: install Debian's debootstrap (scripts/setup does, as root)")
    work = buildah.root / "standin"
    shutil.rmtree(work, ignore_errors=True)
    rootfs = work / "rootfs"
    rootfs.mkdir(parents=True)
    try:
        with buildah.log.open("a") as out:
            result = subprocess.run(
                [DEBOOTSTRAP, "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(rootfs), debian_mirror()],
                stdout=out, stderr=subprocess.STDOUT, timeout=1200,
            )
        if result.returncode != 0:
            raise ImageBuildError(f"debootstrap failed (exit {result.returncode}); log {buildah.log}")
        slim_rootfs(rootfs)
        archive = work / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            for entry in sorted(rootfs.iterdir()):
                tar.add(entry, arcname=entry.name)
        container = buildah.run("from", "scratch").strip()
        buildah.run("add", container, str(archive), "/")
        buildah.run(
            "config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env", "LANG=C.UTF-8", "--cmd", "python3", "--os", "linux", "--arch", "amd64", container,
        )
        buildah.run("commit", "-q", "--rm", container, DEBIAN_PYTHON)
        (work / "Containerfile").write_text(files("Containerfile.python-standin"))
        buildah.run("bud", "-q", "--pull=never", "-f", str(work / "Containerfile"), "-t", BASE_IMAGE, str(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def slim_rootfs(rootfs: Path) -> None:
    """Trim like Debian's `-slim` images: no docs, man pages, locales, apt lists or caches, host identity."""
    subprocess.run(["chroot", str(rootfs), "apt-get", "clean"], check=True, capture_output=True)
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/debconf/*-old", "var/log/*.log",
                    "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "var/cache/man/*"):
        for path in rootfs.glob(pattern):
            _remove(path)
    for locale in (rootfs / "usr/share/locale").glob("*"):
        if locale.name != "locale.alias":
            _remove(locale)
    for cache in rootfs.glob("usr/lib/python3*/**/__pycache__"):
        _remove(cache)
    # The image uses the same apt sources as the machine that builds it.
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    for source in SOURCES.glob("*.sources"):
        shutil.copy(source, rootfs / "etc/apt/sources.list.d" / source.name)
    apt = rootfs / "etc/apt/apt.conf.d"
    (apt / "docker-clean").write_text(APT_CLEAN)
    (apt / "docker-no-languages").write_text('Acquire::Languages "none";\n')
    (apt / "docker-autoremove-suggests").write_text('APT::AutoRemove::SuggestsImportant "false";\n')
    # The runtime writes these per container.
    (rootfs / "etc/hostname").write_text("")
    (rootfs / "etc/resolv.conf").write_text("")
    (rootfs / "etc/machine-id").unlink(missing_ok=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
