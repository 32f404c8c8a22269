"""The host side of the real node: its network, and undoing everything `up` changed on the machine.

Pods live on the bridge `pandora0` (10.86.0.0/24, the host is 10.86.0.1: the API server, cluster DNS and the
services tests start listen there). `up` records what it is about to change (ip_forward, which iptables chains,
tables and ipsets exist, /run/netns) in the node directory; `down` puts each back: the bridge, ip_forward, every
chain and table kube-proxy and kube-router added (after `kube-proxy --cleanup`), kube-router's ipsets, network
namespaces and mounts left by pods.
"""

from __future__ import annotations

import fcntl
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pandora_testenv.processes import StartError

BRIDGE = "pandora0"
GATEWAY = "10.86.0.1"
POD_SUBNET = "10.86.0.0/24"
# Pods get 10.86.0.10 and up; the addresses below stay free for the host side.
RANGE_START = "10.86.0.10"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
NETNS_DIR = Path("/run/netns")
STATE_FILE = "host-state.json"
# Places the kubelet and containerd write to whatever they are configured with: the device-plugin socket
# directory, the runc state and shim sockets, the symlinks to container logs.
FIXED_PATHS = ("/var/lib/kubelet", "/run/containerd", "/var/log/containers")
TABLES = ("filter", "nat", "mangle", "raw", "security")
# One real node per host (one bridge, one /var/lib/kubelet): test sessions that want one take turns on this lock.
HOST_LOCK = Path("/run/lock/pandora-testenv-real-node.lock")
_HELD: set[Path] = set()


class NetworkError(StartError):
    pass


@dataclass
class HostState:
    """What the host looked like before `up` changed it."""

    ip_forward: str
    # family ("ip"/"ip6") -> table -> chains present before
    chains: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    netns_dir_existed: bool = True
    # FIXED_PATHS that did not exist: `down` removes them again
    absent_paths: list[str] = field(default_factory=list)
    ipsets: list[str] = field(default_factory=list)

    def save(self, directory: Path) -> None:
        (directory / STATE_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> HostState | None:
        try:
            return cls(**json.loads((directory / STATE_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NetworkError(f"`{' '.join(args)}` failed: {result.stderr.strip()}")
    return result


def iptables_chains(family: str) -> dict[str, list[str]]:
    """table -> chain names, from iptables-save (ip6tables-save for "ip6"); tables that do not exist are absent."""
    save = "iptables-save" if family == "ip" else "ip6tables-save"
    if shutil.which(save) is None:
        return {}
    chains: dict[str, list[str]] = {}
    table = None
    for line in _run(save, check=False).stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
            chains[table] = []
        elif line.startswith(":") and table:
            chains[table].append(line[1:].split()[0])
    return chains


def ipsets() -> list[str]:
    """Names of the host's ipsets (none without the ipset tool)."""
    if shutil.which("ipset") is None:
        return []
    return _run("ipset", "list", "-n", check=False).stdout.split()


def bridge_exists() -> bool:
    return _run("ip", "link", "show", BRIDGE, check=False).returncode == 0


def network_up(directory: Path) -> HostState:
    """Record the host's state, then create the bridge with the host's address on it."""
    if bridge_exists():
        raise NetworkError(
            f"bridge {BRIDGE} exists: another real node runs on this machine (or one was not taken down; "
            f"`pandora-testenv down --dir DIR` with its directory, or `ip link delete {BRIDGE}`)"
        )
    state = HostState(
        ip_forward=IP_FORWARD.read_text().strip(),
        chains={family: iptables_chains(family) for family in ("ip", "ip6")},
        netns_dir_existed=NETNS_DIR.exists(),
        absent_paths=[path for path in FIXED_PATHS if not Path(path).exists()],
        ipsets=ipsets(),
    )
    directory.mkdir(parents=True, exist_ok=True)
    state.save(directory)
    _run("ip", "link", "add", BRIDGE, "type", "bridge")
    _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")
    # Pods reach each other and Services through the host: the bridge CNI plugin would set this too.
    IP_FORWARD.write_text("1\n")
    return state


def remove_pod_network_namespaces() -> None:
    """Network namespaces containerd made for pods (`cni-<uuid>` bind mounts) that a failed teardown left."""
    if not NETNS_DIR.is_dir():
        return
    for netns in NETNS_DIR.glob("cni-*"):
        _run("umount", str(netns), check=False)
        netns.unlink(missing_ok=True)


def unmount_under(root: Path) -> None:
    """Unmount everything mounted at or below `root`, deepest first (the kubelet bind-mounts its root onto itself
    and mounts each pod's volumes below it)."""
    prefix = str(root.resolve())
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if target == prefix or target.startswith(prefix + "/"):
            mounts.append(target)
    for target in sorted(set(mounts), key=len, reverse=True):
        _run("umount", "-l", target, check=False)


def _remove_added_chains(state: HostState) -> None:
    """Flush and delete iptables chains that were not there before `up` (whatever kube-proxy's cleanup left)."""
    for family, before in state.chains.items():
        binary = "iptables" if family == "ip" else "ip6tables"
        if shutil.which(binary) is None:
            continue
        for table, chains in iptables_chains(family).items():
            added = [chain for chain in chains if not _builtin(chain) and chain not in before.get(table, [])]
            for chain in filter(_builtin, chains):
                # Rules in built-in chains that jump to the chains about to go.
                for rule in _run(binary, "-t", table, "-S", chain, check=False).stdout.splitlines():
                    if any(rule.endswith(f"-j {target}") or f"-j {target} " in rule for target in added):
                        _run(binary, "-t", table, *shlex.split(rule.replace("-A ", "-D ", 1)), check=False)
            for chain in added:
                _run(binary, "-t", table, "-F", chain, check=False)
            for chain in added:
                _run(binary, "-t", table, "-X", chain, check=False)


def _builtin(chain: str) -> bool:
    return re.fullmatch(r"[A-Z]+", chain) is not None


def _remove_added_tables(state: HostState) -> None:
    """iptables-nft tables that did not exist before and are empty again (only `nft` can delete a table)."""
    if shutil.which("nft") is None:
        return
    for family, before in state.chains.items():
        for table, chains in iptables_chains(family).items():
            if table in before or not all(map(_builtin, chains)):
                continue
            binary = "iptables" if family == "ip" else "ip6tables"
            if _run(binary, "-t", table, "-S", check=False).stdout.count("-A ") == 0:
                _run("nft", "delete", "table", family, table, check=False)


def _remove_added_ipsets(state: HostState) -> None:
    """ipsets kube-router made (once no iptables rule refers to them, they can be destroyed)."""
    for name in ipsets():
        if name not in state.ipsets:
            _run("ipset", "destroy", name, check=False)


def _remove_fixed_paths(state: HostState, node_dir: Path) -> None:
    """The kubelet's and containerd's fixed paths: gone if `up` found them absent; otherwise only the container
    log links that point into this node's directory."""
    links = Path("/var/log/containers")
    if links.is_dir():
        for link in links.iterdir():
            if link.is_symlink() and str(link.readlink()).startswith(str(node_dir.resolve()) + "/"):
                link.unlink()
    for path in state.absent_paths:
        shutil.rmtree(path, ignore_errors=True)


def network_down(directory: Path) -> None:
    """Undo network_up and what pods and kube-proxy left (idempotent; a no-op without a recorded state, so it
    never touches another directory's node)."""
    state = HostState.load(directory)
    if state is None:
        return  # this directory's `up` changed nothing on the host (or `down` already ran)
    remove_pod_network_namespaces()
    if bridge_exists():
        _run("ip", "link", "delete", BRIDGE, check=False)
    _remove_added_chains(state)
    _remove_added_tables(state)
    _remove_added_ipsets(state)
    IP_FORWARD.write_text(state.ip_forward + "\n")
    if not state.netns_dir_existed and NETNS_DIR.is_dir() and not any(NETNS_DIR.iterdir()):
        NETNS_DIR.rmdir()
    _remove_fixed_paths(state, directory)
    (directory / STATE_FILE).unlink(missing_ok=True)


@contextmanager
def real_node_turn(echo: Callable[[str], None] = print, lock: Path = HOST_LOCK) -> Iterator[None]:
    """Hold the host's real-node lock while inside: a second test session waits for the first to be done instead
    of both failing on a shared bridge and kubelet directory."""
    if lock in _HELD:  # this process has its turn already (flock would wait on itself)
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo(f"another session has this host's real node; waiting for {lock}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        _HELD.add(lock)
        try:
            yield
        finally:
            _HELD.discard(lock)
            fcntl.flock(handle, fcntl.LOCK_UN)
