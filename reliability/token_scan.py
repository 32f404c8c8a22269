"""Token hygiene (issue 12, item 6): the bot token must appear in nothing the harness collected — recorder output
(crash output included), the simulator's and daprd's logs, Redis's files, spill files, stored recordings, and for
the cluster scenarios the operator's log, events and statuses it dumps into the run folder."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# The last part of a token (its HMAC) is the secret; the first is only the bot's id in base64.
MIN_SECRET_PART = 16


def needles(token: str) -> list[bytes]:
    """The whole token and its secret part: a log that cut the token at a dot still leaks that part."""
    secret = token.rsplit(".", 1)[-1]
    return [token.encode()] + ([secret.encode()] if len(secret) >= MIN_SECRET_PART and secret != token else [])


def leaks(roots: Iterable[Path], tokens: Iterable[str], skip: Iterable[Path] = ()) -> list[str]:
    """`path:line` of every line under `roots` (files, or folders searched recursively, but for those under
    `skip`) holding a token or its secret part; an empty list when the tokens appear nowhere."""
    tokens = list(tokens)
    wanted = [needle for token in tokens if token for needle in needles(token)]
    found: list[str] = []
    for path in _files(roots, skip):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # a file that went away while scanning (a spill file taken up) held nothing new
        if not leaks_in(data, tokens):
            continue
        for number, line in enumerate(data.splitlines(), 1):
            if any(needle in line for needle in wanted):
                found.append(f"{path}:{number}")
    return found


def leaks_in(data: bytes, tokens: Iterable[str]) -> bool:
    return any(needle in data for token in tokens if token for needle in needles(token))


def scanned_files(roots: Iterable[Path], skip: Iterable[Path] = ()) -> int:
    return sum(1 for _ in _files(roots, skip))


def _files(roots: Iterable[Path], skip: Iterable[Path]) -> Iterable[Path]:
    skipped = [folder.resolve() for folder in skip]
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in candidates:
            if path.is_file() and not path.is_symlink() and not any(
                    path.resolve().is_relative_to(folder) for folder in skipped):
                yield path
