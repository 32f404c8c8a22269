"""What a Dockerfile build depends on, hashed: the Dockerfile, its target, the base image and every context file
its COPY lines take (after .dockerignore), so an image is rebuilt exactly when one of them changed."""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Iterator
from pathlib import Path


def dockerignore_patterns(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per line of .dockerignore, in order (the last matching pattern wins, as in Docker)."""
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        patterns.append((negated, _glob_regex(line.lstrip("!").strip("/"))))
    return patterns


def _glob_regex(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex + r"\Z")


def is_ignored(relative: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """True when `relative` (posix, from the context root) or a folder above it is excluded."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    ignored = False
    for negated, regex in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def copy_sources(dockerfile: Path) -> list[str]:
    """Context paths named by the Dockerfile's COPY/ADD lines (not the ones copying from another stage)."""
    sources: list[str] = []
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    for line in text.splitlines():
        if line.split(" ", 1)[0].strip().upper() not in ("COPY", "ADD"):
            continue
        words = shlex.split(line)
        arguments = [word for word in words[1:] if not word.startswith("--")]
        if any(word.startswith("--from") for word in words[1:]):
            continue
        sources += arguments[:-1]
    return sources


def context_files(context: Path, sources: list[str]) -> Iterator[Path]:
    patterns = dockerignore_patterns(context)
    for source in sorted(set(sources)):
        root = context / source
        candidates = [root] if root.is_file() else sorted(path for path in root.rglob("*") if path.is_file())
        for path in candidates:
            if not is_ignored(path.relative_to(context).as_posix(), patterns):
                yield path


def build_hash(context: Path, dockerfile: Path, target: str | None, base_id: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"target={target}\nbase={base_id}\n".encode())
    digest.update(dockerfile.read_bytes())
    for path in context_files(context, copy_sources(dockerfile)):
        digest.update(f"\0{path.relative_to(context).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def files_hash(paths: list[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(f"\0{path.name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
