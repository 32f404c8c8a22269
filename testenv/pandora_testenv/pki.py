"""Certificates and keys for the local control plane: one CA (trustme), serving and client certificates, and the
service-account signing key pair."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Names the API server answers to, in and out of the cluster (the first service IP and the real node's bridge
# address, where it listens when pods must reach it, included).
APISERVER_NAMES = (
    "127.0.0.1",
    "localhost",
    "10.86.0.1",
    "10.0.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

# Client identities: file stem -> (user name, groups). RBAC bootstrap roles exist for the system: users.
CLIENTS = {
    "admin": ("pandora-admin", ["system:masters"]),
    "controller-manager": ("system:kube-controller-manager", []),
    "scheduler": ("system:kube-scheduler", []),
    # The real node (realnode/): its kubelet as a node identity (Node authorizer), kube-proxy (bootstrap role
    # system:node-proxier), kube-router's firewall (its own read-only ClusterRole, realnode/networkpolicy.py),
    # and the API server's client certificate for kubelets (logs, exec).
    "kubelet": ("system:node:pandora-real-node", ["system:nodes"]),
    "kube-proxy": ("system:kube-proxy", []),
    "kube-router": ("pandora-testenv:kube-router", []),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", []),
}


@dataclass(frozen=True)
class Pki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.directory / "sa.pub"

    def client_cert(self, client: str) -> Path:
        return self.directory / f"{client}.crt"

    def client_key(self, client: str) -> Path:
        return self.directory / f"{client}.key"


def create_pki(directory: Path) -> Pki:
    """Write a fresh CA, serving cert, client certs and SA keys into `directory` (reused when already there)."""
    pki = Pki(directory)
    if pki.sa_pub.is_file():
        return pki
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="pandora-testenv")
    ca.cert_pem.write_to_path(str(pki.ca_cert))
    serving = ca.issue_cert(*APISERVER_NAMES, common_name="kube-apiserver")
    serving.private_key_pem.write_to_path(str(pki.serving_key))
    serving.cert_chain_pems[0].write_to_path(str(pki.serving_cert))
    for client, (user, groups) in CLIENTS.items():
        # trustme puts groups into O=, which is where the API server reads them from; one group at most here.
        issued = ca.issue_cert(
            "127.0.0.1", common_name=user, organization_name=groups[0] if groups else None
        )
        issued.private_key_pem.write_to_path(str(pki.client_key(client)))
        issued.cert_chain_pems[0].write_to_path(str(pki.client_cert(client)))
    sa_key = ec.generate_private_key(ec.SECP256R1())
    pki.sa_key.write_bytes(
        sa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    for key in directory.glob("*.key"):
        key.chmod(0o600)
    return pki
