"""The image cache key: a build is redone exactly when something the Dockerfile copies (or the base) changed."""

from __future__ import annotations

from pathlib import Path

from pandora_testenv.realnode.context import build_hash, context_files, copy_sources
from pandora_testenv.realnode.images import checkout_root

DOCKERFILE = """\
FROM python:3.11-slim-bookworm AS build
# a comment that isn't a COPY line
COPY pyproject.toml README.md ./
COPY --chown=1:1 core core
RUN true
FROM python:3.11-slim-bookworm
COPY --from=build /opt/pandora /opt/pandora
"""


def make_context(root: Path) -> Path:
    (root / "core" / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "core" / "pkg" / "a.py").write_text("A = 1\n")
    (root / "core" / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("")
    (root / "pyproject.toml").write_text("[project]\n")
    (root / "README.md").write_text("readme\n")
    (root / ".dockerignore").write_text("# comment\n**/__pycache__\ntests\n*.md\n!README.md\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    return root


def test_copy_sources_are_the_context_paths_of_copy_lines_not_other_stages():
    assert sorted(copy_sources(checkout_root() / "Dockerfile.recorder")) == [
        "README.md", "core", "pyproject.toml", "recorder",
    ]
    assert sorted(copy_sources(checkout_root() / "Dockerfile.operator")) == [
        "README.md", "core", "frontdoor", "operator", "pyproject.toml",
    ]


def test_context_files_follow_dockerignore(tmp_path: Path):
    context = make_context(tmp_path)
    sources = copy_sources(context / "Dockerfile")
    files = [path.relative_to(context).as_posix() for path in context_files(context, sources)]
    assert files == ["README.md", "core/pkg/a.py", "pyproject.toml"]


def test_hash_changes_with_copied_files_base_and_target_only(tmp_path: Path):
    context = make_context(tmp_path)
    dockerfile = context / "Dockerfile"
    first = build_hash(context, dockerfile, None, "base-1")
    assert build_hash(context, dockerfile, None, "base-1") == first
    (context / "tests" / "test_a.py").write_text("changed\n")
    (context / "core" / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\1")
    (context / "unrelated.txt").write_text("not copied\n")
    assert build_hash(context, dockerfile, None, "base-1") == first
    assert build_hash(context, dockerfile, None, "base-2") != first
    assert build_hash(context, dockerfile, "cook", "base-1") != first
    (context / "core" / "pkg" / "a.py").write_text("A = 2\n")
    assert build_hash(context, dockerfile, None, "base-1") != first
