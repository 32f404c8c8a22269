"""``pandora operator``: run the kopf operator that turns Recordings into recorder pods.

One replica only (the Helm chart uses ``Recreate``): kopf runs ``--standalone`` without peering, and bot and
channel claims are kept in this process's memory (rebuilt from Recording statuses at startup).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def configure(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        metavar="NS",
        help="watch Recordings in this namespace (repeatable; default: $PANDORA_WATCH_NAMESPACE, else the "
        "pod's own namespace, else 'default')",
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch Recordings in every namespace")
    parser.add_argument(
        "--liveness",
        metavar="URL",
        default=os.environ.get("PANDORA_LIVENESS_URL"),
        help="serve kopf's liveness probe here, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default: $PANDORA_LOG_LEVEL or INFO)")


def default_namespace() -> str:
    if namespace := os.environ.get("PANDORA_WATCH_NAMESPACE"):
        return namespace
    if SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "default"


def run(args: argparse.Namespace) -> int:
    # kopf imports these Kubernetes clients whenever they are installed, only to recognise their model classes,
    # which the operator never passes. None is an operator dependency, but the development environment has
    # kubernetes and pykube (tests, pytest-kind), and there the imports alone would add tens of MiB of RSS.
    for client_module in ("kubernetes_asyncio", "kubernetes", "pykube"):
        sys.modules.setdefault(client_module, None)  # type: ignore[arg-type]
    import kopf

    from pandora.logging import configure_logging

    configure_logging(args.log_level)
    if logging.getLogger().level > logging.DEBUG:
        # kopf reports every handler success at INFO; at a thousand Recordings that is noise, not news.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    import pandora_operator.handlers  # noqa: F401  (registers the handlers with kopf)

    if args.all_namespaces:
        kopf.run(clusterwide=True, standalone=True, liveness_endpoint=args.liveness)
    else:
        kopf.run(namespaces=args.namespace or [default_namespace()], standalone=True, liveness_endpoint=args.liveness)
    return 0
