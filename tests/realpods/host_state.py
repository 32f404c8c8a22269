"""What a real node may change on the host, captured so a test can check `down` put all of it back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# Places a kubelet, containerd or CNI would write to by default; the real node must use none of them.
DEFAULT_PATHS = ("/var/lib/kubelet", "/var/lib/containerd", "/run/containerd", "/var/log/pods", "/var/log/containers",
                 "/usr/libexec/kubernetes", "/etc/cni", "/var/lib/cni", "/opt/cni", "/run/netns", "/var/run/netns",
                 "/etc/kubernetes")


def _iptables(save: str) -> list[str]:
    lines = subprocess.run([save], capture_output=True, text=True).stdout.splitlines()
    # Packet counters and the generation comments change by themselves.
    return [re.sub(r"\[\d+:\d+\]", "", line) for line in lines if line and not line.startswith("#")]


def host_state() -> dict[str, object]:
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    cgroups = sorted(str(path) for path in Path("/sys/fs/cgroup").glob("*/*") if path.is_dir())
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {
        "iptables": _iptables("iptables-save"),
        "ip6tables": _iptables("ip6tables-save"),
        "nft tables": subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout.split("\n"),
        "ipsets": sorted(subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True).stdout.split()),
        "links": sorted(re.findall(r"^\d+: ([^:@]+)", links, re.MULTILINE)),
        "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text().strip(),
        "mounts": sorted(mounts),
        "top-level cgroups": cgroups,
        "default paths": sorted(path for path in DEFAULT_PATHS if Path(path).exists()),
    }


def differences(before: dict[str, object], after: dict[str, object]) -> dict[str, tuple[object, object]]:
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}
