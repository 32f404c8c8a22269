from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest
import trustme
import yaml

from pandora_frontdoor.kube.connection import KubeConnection


def kubeconfig(path: Path, user: dict, cluster: dict) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "here",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443/", **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "here", "context": {"cluster": "c", "user": "u", "namespace": "recordings"}}],
    }))
    return path


def test_a_token_kubeconfig_with_inline_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    data = base64.b64encode(ca.cert_pem.bytes()).decode()
    connection = KubeConnection.from_kubeconfig(kubeconfig(tmp_path / "config", {"token": "abc"},
                                                           {"certificate-authority-data": data}))
    assert connection.server == "https://127.0.0.1:6443"
    assert connection.headers() == {"Authorization": "Bearer abc"}
    assert connection.namespace == "recordings"
    assert connection.ssl_context.verify_mode is ssl.CERT_REQUIRED


def test_client_certificates_and_token_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    client = ca.issue_cert("admin")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "admin.crt"))
    client.private_key_pem.write_to_path(str(tmp_path / "admin.key"))
    (tmp_path / "token").write_text("rotated-1\n")
    path = kubeconfig(tmp_path / "config",
                      {"client-certificate": "admin.crt", "client-key": "admin.key", "tokenFile": "token"},
                      {"certificate-authority": "ca.crt"})
    connection = KubeConnection.from_kubeconfig(path)
    assert connection.headers() == {"Authorization": "Bearer rotated-1"}
    (tmp_path / "token").write_text("rotated-2\n")
    assert connection.headers() == {"Authorization": "Bearer rotated-2"}  # read per request


def test_a_missing_context_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({"current-context": "gone", "contexts": [], "clusters": [], "users": []}))
    with pytest.raises(ValueError, match="no context named 'gone'"):
        KubeConnection.from_kubeconfig(path)
