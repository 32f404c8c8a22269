"""Operator settings (set once, before anything is watched) and the shared reconciler context."""

from __future__ import annotations

import logging

import kopf

from pandora.recording_api.resource import GROUP, PLURAL
from pandora_operator.botpool import BotPool
from pandora_operator.config import OperatorConfig
from pandora_operator.kube import Kube, login
from pandora_operator.model import LABEL_MANAGED_BY, MANAGED_BY
from pandora_operator.reconcile import Context
from pandora_operator.start_budget import StartBudget


@kopf.on.login()
def credentials(settings: kopf.OperatorSettings, **_: object) -> kopf.ConnectionInfo:
    # Explicit, so kopf's watches log in the one way Kube does (service account, else kubeconfig), whatever
    # client libraries (pykube, kubernetes) happen to be installed beside it.
    return login(settings)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: object) -> None:
    # The operator uses only event handlers and indexes, and manages its own finalizer (model.FINALIZER), so
    # kopf writes nothing on Recordings; these prefixes only keep kopf's names ours should it ever need them.
    settings.persistence.finalizer = f"{GROUP}/kopf"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Only the Events the reconciler posts on purpose (started/stopped/failed/restarted), not log lines.
    settings.posting.level = logging.CRITICAL
    # The operator may not list CRDs or namespaces (least privilege); resources are discovered once.
    settings.scanning.disabled = True
    # Watch only recorder pods, filtered by the API server rather than in Python.
    settings.watching.label_selectors["v1", "pods"] = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    # The same object's events are batched; a short window keeps status latency low.
    settings.batching.batch_window = 0.1
    kube = Kube(login(settings))
    config = OperatorConfig.from_env()
    memo.context = Context(config=config, kube=kube, pool=BotPool(config.bot_secret, kube.secret_keys),
                           starts=StartBudget(config.daily_recorder_starts))
    logging.getLogger(__name__).info("watching %s.%s", PLURAL, GROUP)


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: object) -> None:
    context = getattr(memo, "context", None)
    if context is not None:
        if context.sweeper is not None:
            context.sweeper.cancel()
        await context.kube.close()
