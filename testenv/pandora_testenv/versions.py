"""Pinned versions of every binary the local control plane is built from.

Changing a version here changes the cache directory name, so the next `pandora-testenv build` rebuilds just that
component and leaves the others cached.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources


@dataclass(frozen=True)
class GoComponent:
    """One Go module, built in a wrapper module, producing one or more binaries."""

    name: str
    module: str
    version: str
    # binary name -> package path inside the module graph
    binaries: dict[str, str]
    tags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    # Version given to modules that the target's go.mod replaces with a local directory (a monorepo's own
    # submodules); None means "the target's own version".
    local_replace_version: str | None = None
    # Extra environment for `go build` (e.g. GOEXPERIMENT); usually empty.
    env: dict[str, str] = field(default_factory=dict)
    # A main package of our own (a Go file shipped in pandora_testenv, path relative to it) placed in the wrapper
    # module, for when the module's own command links far more than we run. The wrapper module's path then names
    # the binary's package.
    main_file: str = ""

    @property
    def wrapper_module(self) -> str:
        return f"pandora.local/testenv/{self.name}"

    def main_source(self) -> str:
        return resources.files("pandora_testenv").joinpath(self.main_file).read_text() if self.main_file else ""

    @property
    def key(self) -> str:
        # Our own main is part of what is built: a change to it is a new build.
        own = f"-{hashlib.sha256(self.main_source().encode()).hexdigest()[:8]}" if self.main_file else ""
        return f"{self.name}-{self.version}{own}"


KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v3.22.0"
# The Python SDK is dapr==1.19.0; the proxy does not serve runtime v1.19.x, and an SDK talks to the previous
# runtime minor (the gRPC API is additive). v1.18.2 and v1.18.3 need durabletask-go versions the proxy refuses
# (403 "not available"), so v1.18.1 is the newest that builds here.
DAPR_VERSION = "v1.18.1"
# NetworkPolicy on the real node: kube-router's firewall alone (iptables + ipset; realnode/networkpolicy.py says
# why not kube-network-policies). The proxy serves no kube-router/v2 release newer than v2.1.0 (403 from v2.2.0).
KUBE_ROUTER_VERSION = "v2.1.0"


def _kubernetes_ldflags(version: str) -> tuple[str, ...]:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    # kube-apiserver derives its emulation/compatibility version from these; the default "v0.0.0-master"
    # would make it refuse to start.
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
            f"-X {package}.buildDate=1970-01-01T00:00:00Z",
        ]
    return tuple(flags)


def _staging_version(version: str) -> str:
    # Kubernetes publishes its staging modules (k8s.io/api, ...) as v0.<minor>.<patch>.
    _major, minor, patch = version.lstrip("v").split(".")
    return f"v0.{minor}.{patch}"


COMPONENTS: dict[str, GoComponent] = {
    component.name: component
    for component in (
        GoComponent(
            name="kubernetes",
            module="k8s.io/kubernetes",
            version=KUBERNETES_VERSION,
            binaries={
                "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
                "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
                "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
                "kubectl": "k8s.io/kubernetes/cmd/kubectl",
                # The real node (pandora-testenv up --real-node).
                "kubelet": "k8s.io/kubernetes/cmd/kubelet",
                "kube-proxy": "k8s.io/kubernetes/cmd/kube-proxy",
            },
            ldflags=_kubernetes_ldflags(KUBERNETES_VERSION),
            local_replace_version=_staging_version(KUBERNETES_VERSION),
        ),
        GoComponent(
            name="etcd",
            module="go.etcd.io/etcd/server/v3",
            version=ETCD_VERSION,
            binaries={"etcd": "go.etcd.io/etcd/server/v3"},
            ldflags=(f"-X go.etcd.io/etcd/api/v3/version.GitSHA={ETCD_VERSION}",),
        ),
        GoComponent(
            name="kwok",
            module="sigs.k8s.io/kwok",
            version=KWOK_VERSION,
            binaries={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
            ldflags=(f"-X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}",),
        ),
        GoComponent(
            name="helm",
            module="helm.sh/helm/v3",
            version=HELM_VERSION,
            binaries={"helm": "helm.sh/helm/v3/cmd/helm"},
            ldflags=(f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",),
        ),
        GoComponent(
            name="daprd",
            module="github.com/dapr/dapr",
            version=DAPR_VERSION,
            binaries={
                "daprd": "github.com/dapr/dapr/cmd/daprd",
                # The control plane that injects daprd into pods on the real node and serves it its Components.
                "dapr-operator": "github.com/dapr/dapr/cmd/operator",
                "dapr-sentry": "github.com/dapr/dapr/cmd/sentry",
                "dapr-injector": "github.com/dapr/dapr/cmd/injector",
            },
            # Without a components build tag daprd registers no components and panics at start.
            tags=("stablecomponents",),
            ldflags=(f"-X github.com/dapr/dapr/pkg/buildinfo.version={DAPR_VERSION.lstrip('v')}",),
        ),
        GoComponent(
            name="kube-router",
            module="github.com/cloudnativelabs/kube-router/v2",
            version=KUBE_ROUTER_VERSION,
            # Only its firewall, from our own main: cmd/kube-router also links a BGP router, an IPVS proxy, the
            # AWS SDK and a Docker client; left out, a cold build takes a third less CPU and downloads 217 MB of
            # modules instead of 643 MB.
            binaries={"kube-router": "pandora.local/testenv/kube-router"},
            main_file="realnode/files/kube-router-firewall.go",
        ),
    )
}

BINARY_COMPONENT: dict[str, str] = {
    binary: component.name for component in COMPONENTS.values() for binary in component.binaries
}
