"""The backing services Pandora's Dapr components point at, run as local processes: Redis (Debian's
redis-server), an S3 server (moto's), and daprd itself with our components/ rendered against them."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pandora_testenv.cache import binary_path
from pandora_testenv.kubeapi import http_ok
from pandora_testenv.processes import ManagedProcess, StartError, start_listening, stop

REDIS_SERVER = "/usr/bin/redis-server"
# Component names in components/ (stable: the recorder, operator and helm chart refer to them).
STATE_STORE = "pandora-statestore"
PUBSUB = "pandora-pubsub"
OBJECT_STORE = "pandora-objectstore"
LOCAL_OBJECT_STORE = "pandora-objectstore-local"


def repo_components_dir() -> Path:
    """components/ of this checkout (testenv is installed editable from it)."""
    return Path(__file__).resolve().parents[2] / "components"


@dataclass
class RedisServer:
    host: str
    port: int
    process: ManagedProcess

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def start_redis(run_dir: Path, timeout: float = 15, host: str = "127.0.0.1") -> RedisServer:
    """Redis on a free port of `host` (the real node's bridge address makes it reachable from pods)."""
    if not Path(REDIS_SERVER).exists():
        raise StartError(f"{REDIS_SERVER} missing: install Debian's redis-server (scripts/setup does)")
    name = "redis" if host == "127.0.0.1" else f"redis-{host}"
    data = run_dir / name
    data.mkdir(parents=True, exist_ok=True)

    def redis_args(ports: list[int]) -> list[str]:
        return [REDIS_SERVER, "--bind", host, "--port", str(ports[0]), "--dir", str(data), "--save", "",
                "--appendonly", "no", "--protected-mode", "no"]

    def ping(ports: list[int]) -> bool:
        import redis

        return bool(redis.Redis(host=host, port=ports[0], socket_timeout=1).ping())

    process, (port,) = start_listening(
        name, redis_args, 1, ping, run_dir, timeout, tie_to_parent=True
    )
    return RedisServer(host, port, process)


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    process: ManagedProcess
    access_key: str = "pandora-test"
    secret_key: str = "pandora-test-secret"
    region: str = "us-east-1"

    def client(self) -> Any:
        """A boto3 S3 client for checking what landed in the bucket."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def chunk_files(self, prefix: str, bucket: str | None = None) -> dict[str, bytes]:
        """File name -> its chunk objects `<prefix>.../<name>.<n>` joined in number order, read straight from the
        bucket (not through Dapr): what a reader of the bucket gets."""
        client = self.client()
        chunks: dict[str, list[tuple[int, bytes]]] = {}
        for page in client.get_paginator("list_objects").paginate(Bucket=bucket or self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                match = re.fullmatch(r".*/(.+)\.(\d{6,})", item["Key"])
                if match:
                    body = client.get_object(Bucket=bucket or self.bucket, Key=item["Key"])["Body"].read()
                    chunks.setdefault(match[1], []).append((int(match[2]), body))
        return {name: b"".join(body for _, body in sorted(parts)) for name, parts in chunks.items()}

    def object_count(self, prefix: str, bucket: str | None = None) -> int:
        pages = self.client().get_paginator("list_objects").paginate(Bucket=bucket or self.bucket, Prefix=prefix)
        return sum(len(page.get("Contents", ())) for page in pages)


def start_s3(run_dir: Path, bucket: str = "pandora-test", timeout: float = 30, host: str = "127.0.0.1") -> S3Server:
    """moto's S3 server (MinIO is not built here: moto ships in the dev extra and needs no build) on `host`."""
    moto = Path(sys.executable).with_name("moto_server")
    process, (port,) = start_listening(
        "s3" if host == "127.0.0.1" else f"s3-{host}",
        lambda ports: [str(moto), "-H", host, "-p", str(ports[0])],
        1,
        lambda ports: http_ok(f"http://{host}:{ports[0]}/moto-api/"),
        run_dir,
        timeout,
        tie_to_parent=True,
    )
    endpoint = f"http://{host}:{port}"
    server = S3Server(endpoint, bucket, process)
    server.client().create_bucket(Bucket=bucket)
    return server


def _set_metadata(component: dict, values: dict[str, str]) -> None:
    entries = component["spec"].setdefault("metadata", [])
    for name, value in values.items():
        entries[:] = [entry for entry in entries if entry.get("name") != name]
        entries.append({"name": name, "value": value})


def render_components(
    target: Path, redis: RedisServer, s3: S3Server, local_root: Path, source: Path | None = None
) -> Path:
    """Copy components/ to `target`, pointing each component at the local servers.

    Only connection metadata is overridden (hosts, endpoint, credentials as plain values instead of
    secretKeyRef); every other setting is the one the chart deploys.
    """
    overrides: dict[str, dict[str, str]] = {
        STATE_STORE: {"redisHost": redis.address, "redisPassword": ""},
        PUBSUB: {"redisHost": redis.address, "redisPassword": ""},
        OBJECT_STORE: {
            "endpoint": s3.endpoint,
            "bucket": s3.bucket,
            "region": s3.region,
            "accessKey": s3.access_key,
            "secretKey": s3.secret_key,
            "forcePathStyle": "true",
            "disableSSL": "true",
        },
        LOCAL_OBJECT_STORE: {"rootPath": str(local_root)},
    }
    target.mkdir(parents=True, exist_ok=True)
    local_root.mkdir(parents=True, exist_ok=True)
    for path in sorted((source or repo_components_dir()).glob("*.yaml")):
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for document in documents:
            name = document["metadata"]["name"]
            if name in overrides:
                _set_metadata(document, overrides[name])
            document.pop("auth", None)
        (target / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return target


@dataclass
class Daprd:
    app_id: str
    http_port: int
    grpc_port: int
    resources_path: Path
    process: ManagedProcess
    app_port: int | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        """Environment for the Dapr Python SDK (DaprClient reads these) to talk to this sidecar."""
        return {
            "DAPR_HTTP_PORT": str(self.http_port),
            "DAPR_GRPC_PORT": str(self.grpc_port),
            "DAPR_RUNTIME_HOST": "127.0.0.1",
            "DAPR_HTTP_ENDPOINT": self.http_endpoint,
            "DAPR_GRPC_ENDPOINT": f"127.0.0.1:{self.grpc_port}",
        }

    def stop(self) -> None:
        stop(self.process)


def start_daprd(
    run_dir: Path,
    resources_path: Path,
    app_id: str = "pandora-test",
    app_port: int | None = None,
    app_protocol: str = "http",
    timeout: float = 60,
    wait_for_app: bool = True,
    extra_args: tuple[str, ...] = (),
) -> Daprd:
    """Start a self-hosted daprd (no placement, no scheduler: state, pub/sub and bindings need neither).

    daprd reports healthy only once its app listens on ``app_port``; ``wait_for_app=False`` returns as soon as its
    own APIs answer (``/v1.0/healthz/outbound``), for an app that needs the sidecar's ports before it listens."""
    daprd = binary_path("daprd")
    if not daprd.is_file():
        raise StartError("daprd is not built; run `.venv/bin/pandora-testenv build`")
    name = f"daprd-{app_id}"
    # daprd in standalone mode writes under $HOME/.dapr; keep that inside the run directory.
    home = run_dir / f"{name}-home"
    home.mkdir(parents=True, exist_ok=True)

    def daprd_args(ports: list[int]) -> list[str]:
        http, grpc, internal, metrics = ports
        args = [
            str(daprd),
            "--mode=standalone",
            f"--app-id={app_id}",
            f"--dapr-http-port={http}",
            f"--dapr-grpc-port={grpc}",
            f"--dapr-internal-grpc-port={internal}",
            f"--metrics-port={metrics}",
            "--dapr-listen-addresses=127.0.0.1",
            f"--resources-path={resources_path}",
            "--placement-host-address=",
            "--scheduler-host-address=",
            "--log-level=info",
        ]
        if app_port is not None:
            args += [f"--app-port={app_port}", f"--app-protocol={app_protocol}"]
        return args + list(extra_args)

    probe = "/v1.0/healthz" if wait_for_app else "/v1.0/healthz/outbound"
    process, ports = start_listening(
        name, daprd_args, 4, lambda ports: _healthz(ports[0], probe), run_dir, timeout,
        env={"HOME": str(home)}, cwd=home, tie_to_parent=True,
    )
    names = ("http", "grpc", "internal", "metrics")
    return Daprd(app_id, ports[0], ports[1], resources_path, process, app_port, dict(zip(names, ports, strict=True)))


def _healthz(http_port: int, path: str = "/v1.0/healthz") -> bool:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=2) as response:
        return response.status in (200, 204)
