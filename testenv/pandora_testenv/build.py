"""Build the control-plane binaries from the Go module proxy into the cache.

Every component is built inside a small wrapper module (in `<cache>/src/<component>-<version>/`) that requires the
target module and copies its go.mod: its requirements (so the build list is exactly the one upstream tested) and its
replace directives. Replaces that point at a local directory (a monorepo's own submodules, Kubernetes' staging
modules) cannot work outside the upstream checkout, so they become replaces to the published version. This is what
lets `k8s.io/kubernetes` and `github.com/dapr/dapr`, which `go install pkg@version` refuses, build here.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from pandora_testenv.cache import STAMP_NAME, cache_root, component_dir, is_built
from pandora_testenv.versions import COMPONENTS, GoComponent


class BuildError(RuntimeError):
    pass


def _go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env.pop("GOFLAGS", None)
    env.update(extra or {})
    return env


def _run(args: list[str], cwd: Path, log: Path, env: dict[str, str]) -> str:
    """Run a go command, appending its output to the build log; raise with the log tail on failure."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=out, text=True)
        out.write(result.stdout if "-json" not in args else "")
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise BuildError(f"`{' '.join(args)}` failed (exit {result.returncode}); log {log}:\n{tail}")
    return result.stdout


def _upstream_gomod(component: GoComponent, log: Path) -> dict:
    """Download the target module and return its go.mod as `go mod edit -json` sees it."""
    with tempfile.TemporaryDirectory() as empty:
        info = json.loads(
            _run(
                ["go", "mod", "download", "-json", f"{component.module}@{component.version}"],
                Path(empty),
                log,
                _go_env({"GO111MODULE": "on"}),
            )
        )
    if info.get("Error"):
        raise BuildError(f"{component.module}@{component.version}: {info['Error']}")
    edited = _run(["go", "mod", "edit", "-json", info["GoMod"]], Path(info["Dir"]), log, _go_env())
    return json.loads(edited)


def _is_local(path: str) -> bool:
    return path.startswith(("./", "../", "/")) or path in {".", ".."}


def wrapper_gomod(component: GoComponent, upstream: dict) -> str:
    """The go.mod text of the wrapper module for one component."""
    local_version = component.local_replace_version or component.version
    lines = [f"module {component.wrapper_module}", "", f"go {upstream.get('Go', '1.26')}", ""]
    for godebug in upstream.get("Godebug") or []:
        lines.append(f"godebug {godebug['Key']}={godebug['Value']}")
    lines.append("require (")
    lines.append(f"\t{component.module} {component.version}")
    for require in upstream.get("Require") or []:
        lines.append(f"\t{require['Path']} {require['Version']}")
    lines.append(")")
    lines.append("replace (")
    required = {require["Path"] for require in upstream.get("Require") or []}
    for replace in upstream.get("Replace") or []:
        old, new = replace["Old"], replace["New"]
        old_text = old["Path"] + (f" {old['Version']}" if old.get("Version") else "")
        if _is_local(new["Path"]):
            if old["Path"] not in required:
                # e.g. etcd's `go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY` guard: not part of the build.
                continue
            lines.append(f"\t{old_text} => {old['Path']} {local_version}")
        else:
            lines.append(f"\t{old_text} => {new['Path']} {new.get('Version', '')}".rstrip())
    lines.append(")")
    for exclude in upstream.get("Exclude") or []:
        lines.append(f"exclude {exclude['Path']} {exclude['Version']}")
    return "\n".join(lines) + "\n"


@contextmanager
def _build_lock() -> Iterator[None]:
    # scripts/setup may run in two checkouts at once; two go builds of the same component would race.
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_component(component: GoComponent, force: bool = False, echo=print) -> dict:
    """Build one component unless cached; return its stamp (sizes and wall times)."""
    out_dir = component_dir(component)
    if is_built(component) and not force:
        return json.loads((out_dir / STAMP_NAME).read_text()) | {"cached": True}
    root = cache_root()
    src = root / "src" / component.key
    logs = root / "logs"
    src.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{component.key}.log"
    log.write_text("")
    started = time.monotonic()
    upstream = _upstream_gomod(component, log)
    (src / "go.mod").write_text(wrapper_gomod(component, upstream))
    if component.main_file:
        (src / "main.go").write_text(component.main_source())
    staging = root / f".{component.key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "bin").mkdir(parents=True)
    # One `go build` for all of a component's binaries: the packages they share compile once, and the link steps
    # run in parallel. With several packages, executables land in bin/ under their package's name (renamed to
    # ours below); a single one is written to its file directly (its package may end in a major version, /v3).
    echo(f"build: {component.key}: {', '.join(component.binaries)} ...")
    out = staging / "bin"
    several = len(component.binaries) > 1
    args = ["go", "build", "-mod=mod", "-trimpath", "-o",
            f"{out}{os.sep}" if several else str(out / next(iter(component.binaries)))]
    if component.tags:
        args += ["-tags", ",".join(component.tags)]
    args += ["-ldflags", " ".join(("-s", "-w", *component.ldflags)), *component.binaries.values()]
    _run(args, src, log, _go_env(component.env))
    if several:
        for name, package in component.binaries.items():
            built = out / package_binary_name(package)
            if built.name != name:
                built.rename(out / name)
    binaries = {name: {"bytes": (out / name).stat().st_size} for name in component.binaries}
    for name, binary in binaries.items():
        echo(f"build: {component.key}: {name} {binary['bytes'] / 1e6:.1f} MB")
    stamp = {
        "component": component.name,
        "module": component.module,
        "version": component.version,
        "seconds": round(time.monotonic() - started, 1),
        "binaries": binaries,
        "go": subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip(),
    }
    (staging / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return stamp | {"cached": False}


def package_binary_name(package: str) -> str:
    """The executable name `go build -o DIR/` gives a main package: its last path element, skipping a /vN."""
    parts = package.split("/")
    if len(parts) > 1 and parts[-1][:1] == "v" and parts[-1][1:].isdigit():
        return parts[-2]
    return parts[-1]


def go_binary() -> str:
    """`go` from PATH, else the standard /usr/local/go install (a non-login shell may lack it on PATH)."""
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if found is None:
        raise BuildError("`go` is not on PATH; install Go 1.26 to build the local control plane")
    return found


def build_all(names: list[str] | None = None, force: bool = False, echo=print) -> list[dict]:
    """Build (one at a time: the machine is small and shared) every named component, default all.

    A failing component does not stop the others; all failures are raised together at the end."""
    selected = [COMPONENTS[name] for name in (names or list(COMPONENTS))]
    stamps, failures = [], []
    must_build = force or not all(is_built(component) for component in selected)
    if must_build:
        os.environ["PATH"] = str(Path(go_binary()).parent) + os.pathsep + os.environ.get("PATH", "")
    # Everything cached: answer at once, without Go and without waiting on another checkout's build.
    with _build_lock() if must_build else nullcontext():
        for component in selected:
            try:
                stamp = build_component(component, force=force, echo=echo)
            except BuildError as error:
                echo(f"build: {component.key}: FAILED")
                failures.append(str(error))
                continue
            state = "cached" if stamp["cached"] else f"built in {stamp['seconds']} s"
            echo(f"build: {component.key}: {state} -> {component_dir(component) / 'bin'}")
            stamps.append(stamp)
    if failures:
        raise BuildError("\n\n".join(failures))
    return stamps


def main_build(names: list[str] | None, force: bool) -> int:
    try:
        build_all(names, force=force)
    except BuildError as error:
        print(f"pandora-testenv build: {error}", file=sys.stderr)
        return 1
    return 0
