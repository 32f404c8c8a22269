"""Where the Kubernetes API server is and who we are to it: the pod's service account, or a kubeconfig.

Read by hand (PyYAML, ssl) rather than through a client library: the front door makes five kinds of call on one
resource, and the service account's token is re-read for every request because the kubelet rotates it.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class KubeConnection:
    server: str
    ssl_context: ssl.SSLContext
    token: Callable[[], str | None]  # the bearer token, read when a request is made
    namespace: str | None = None  # the pod's own namespace, or the kubeconfig context's

    def headers(self) -> dict[str, str]:
        token = self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    @classmethod
    def discover(cls, env: Mapping[str, str] | None = None) -> KubeConnection:
        """In a pod: its service account. Elsewhere: ``$KUBECONFIG`` (or ``~/.kube/config``)."""
        env = os.environ if env is None else env
        host = env.get("KUBERNETES_SERVICE_HOST")
        if host and (SERVICE_ACCOUNT_DIR / "token").exists():
            return cls.in_cluster(host, env.get("KUBERNETES_SERVICE_PORT", "443"))
        path = env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        return cls.from_kubeconfig(Path(path.split(os.pathsep)[0]))

    @classmethod
    def in_cluster(cls, host: str, port: str, directory: Path = SERVICE_ACCOUNT_DIR) -> KubeConnection:
        context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
        namespace_file = directory / "namespace"
        return cls(
            server=f"https://{host}:{port}",
            ssl_context=context,
            token=lambda: (directory / "token").read_text().strip(),
            namespace=namespace_file.read_text().strip() if namespace_file.exists() else None,
        )

    @classmethod
    def from_kubeconfig(cls, path: Path) -> KubeConnection:
        config = yaml.safe_load(path.read_text())
        context_name = config.get("current-context")
        context = _named(config.get("contexts"), context_name, "context", path)
        cluster = _named(config.get("clusters"), context.get("cluster"), "cluster", path)
        user = _named(config.get("users"), context.get("user"), "user", path) if context.get("user") else {}
        ssl_context = ssl.create_default_context()
        if cluster.get("insecure-skip-tls-verify"):
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        elif cluster.get("certificate-authority-data"):
            ssl_context.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif cluster.get("certificate-authority"):
            ssl_context.load_verify_locations(cafile=_relative(path, cluster["certificate-authority"]))
        _load_client_certificate(ssl_context, path, user)
        token_value = user.get("token")
        token_file = user.get("tokenFile")
        return cls(
            server=str(cluster["server"]).rstrip("/"),
            ssl_context=ssl_context,
            token=(lambda: Path(_relative(path, token_file)).read_text().strip()) if token_file
            else (lambda: token_value),
            namespace=context.get("namespace"),
        )


def _named(items: Any, name: Any, kind: str, path: Path) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return dict(item.get(kind) or {})
    raise ValueError(f"{path}: no {kind} named {name!r}")


def _relative(config: Path, file: str) -> str:
    return str((config.parent / file).resolve()) if not os.path.isabs(file) else file


def _load_client_certificate(context: ssl.SSLContext, config: Path, user: Mapping[str, Any]) -> None:
    if user.get("client-certificate"):
        context.load_cert_chain(_relative(config, user["client-certificate"]), _relative(config, user["client-key"]))
    elif user.get("client-certificate-data"):
        # ssl loads certificates only from files: private temporary ones, removed at once.
        with tempfile.TemporaryDirectory(prefix="pandora-kube-") as folder:
            certificate, key = Path(folder) / "client.crt", Path(folder) / "client.key"
            for file, field in ((certificate, "client-certificate-data"), (key, "client-key-data")):
                file.touch(mode=0o600)
                file.write_bytes(base64.b64decode(user[field]))
            context.load_cert_chain(str(certificate), str(key))
