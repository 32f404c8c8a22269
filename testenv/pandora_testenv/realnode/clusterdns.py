"""Cluster DNS for the real node's pods: `<service>.<namespace>.svc.cluster.local` -> the Service's ClusterIP (or,
for a headless Service, its ready endpoints), answered from the API server. Only A records; every other name in
cluster.local is NXDOMAIN, other zones are refused (pods here have no outside world to resolve).

This is the subset of Kubernetes' DNS specification Pandora's pods use (Dapr's injected sidecar dials
`dapr-api.<ns>.svc.cluster.local` and `dapr-sentry...`), in place of CoreDNS, which would be one more large Go
build. Run: `python -m pandora_testenv.realnode.clusterdns --kubeconfig FILE --listen 10.86.0.1`.
"""

from __future__ import annotations

import argparse
import socket
import struct
import time
from pathlib import Path

import yaml

from pandora_testenv.kubeapi import AdminApi

DOMAIN = "cluster.local"
TYPE_A = 1
CLASS_IN = 1
NOERROR, NXDOMAIN, REFUSED = 0, 3, 5
TTL = 5


def parse_question(packet: bytes) -> tuple[int, int, str, int, int]:
    """(id, flags, lower-case name without the final dot, qtype, end offset) of a query's first question."""
    if len(packet) < 12:
        raise ValueError("short packet")
    query_id, flags, questions = struct.unpack("!HHH", packet[:6])
    if questions < 1:
        raise ValueError("no question")
    labels, offset = [], 12
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(packet[offset : offset + length].decode("ascii", errors="replace").lower())
        offset += length
    qtype, _qclass = struct.unpack("!HH", packet[offset : offset + 4])
    return query_id, flags, ".".join(labels), qtype, offset + 4


def build_reply(query: bytes, rcode: int, addresses: list[str]) -> bytes:
    """The query's header and question, flagged as an authoritative answer, with one A record per address."""
    query_id, flags, _name, _qtype, end = parse_question(query)
    reply_flags = 0x8000 | 0x0400 | (flags & 0x0100) | rcode  # QR, AA, RD copied
    header = struct.pack("!HHHHHH", query_id, reply_flags, 1, len(addresses), 0, 0)
    answers = b"".join(
        struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(address) for address in addresses
    )
    return header + query[12:end] + answers


class ServiceResolver:
    """Service name -> addresses, asked from the API server, remembered for a second."""

    def __init__(self, api: AdminApi) -> None:
        self.api = api
        self._cache: dict[tuple[str, str], tuple[float, list[str] | None]] = {}

    def addresses(self, service: str, namespace: str) -> list[str] | None:
        """None: no such Service (NXDOMAIN); a list, possibly empty: its addresses."""
        key = (namespace, service)
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < 1.0:
            return cached[1]
        status, body = self.api.get(f"/api/v1/namespaces/{namespace}/services/{service}")
        found: list[str] | None
        if status != 200:
            found = None
        elif body["spec"].get("clusterIP") not in (None, "", "None"):
            found = [body["spec"]["clusterIP"]]
        else:
            found = self._endpoints(service, namespace)
        self._cache[key] = (time.monotonic(), found)
        return found

    def _endpoints(self, service: str, namespace: str) -> list[str]:
        path = (f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
                f"?labelSelector=kubernetes.io/service-name%3D{service}")
        status, body = self.api.get(path)
        if status != 200:
            return []
        return [address for item in body.get("items", []) for endpoint in item.get("endpoints") or []
                if (endpoint.get("conditions") or {}).get("ready", True) for address in endpoint["addresses"]]


def answer(query: bytes, resolver: ServiceResolver) -> bytes:
    try:
        _id, _flags, name, qtype, _end = parse_question(query)
    except (ValueError, IndexError, struct.error):
        return b""  # not a query we can parse: no answer
    if not (name == DOMAIN or name.endswith("." + DOMAIN)):
        return build_reply(query, REFUSED, [])
    parts = name[: -len(DOMAIN) - 1].split(".") if name != DOMAIN else []
    if len(parts) != 3 or parts[2] != "svc":
        return build_reply(query, NXDOMAIN, [])
    addresses = resolver.addresses(parts[0], parts[1])
    if addresses is None:
        return build_reply(query, NXDOMAIN, [])
    return build_reply(query, NOERROR, addresses if qtype == TYPE_A else [])


def build_query(name: str, qtype: int = TYPE_A, query_id: int = 1) -> bytes:
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
    return struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, CLASS_IN)


def resolve(name: str, server: str, port: int = 53, timeout: float = 1.0) -> list[str] | None:
    """A records of `name` from `server`; None for NXDOMAIN or another error code."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(build_query(name), (server, port))
        reply = sock.recv(512)
    _id, flags, answers = struct.unpack("!HHxxH", reply[:8])
    if flags & 0x000F:
        return None
    _qid, _qflags, _qname, _qtype, offset = parse_question(reply)
    addresses = []
    for _ in range(answers):
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", reply[offset + 2 : offset + 12])
        if rtype == TYPE_A:
            addresses.append(socket.inet_ntoa(reply[offset + 12 : offset + 12 + length]))
        offset += 12 + length
    return addresses


def api_from_kubeconfig(path: Path) -> AdminApi:
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    return AdminApi(cluster["server"], Path(cluster["certificate-authority"]), Path(user["client-certificate"]),
                    Path(user["client-key"]))


def serve(listen: str, port: int, resolver: ServiceResolver) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((listen, port))
        while True:
            query, client = sock.recvfrom(512)
            reply = answer(query, resolver)
            if reply:
                sock.sendto(reply, client)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--listen", default="10.86.0.1")
    parser.add_argument("--port", type=int, default=53)
    args = parser.parse_args(argv)
    serve(args.listen, args.port, ServiceResolver(api_from_kubeconfig(args.kubeconfig)))


if __name__ == "__main__":
    main()
