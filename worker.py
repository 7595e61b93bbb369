"""The worker entry point: runs workflows and the activities that touch the world.

Only activities reach providers, the registry, the database or the clock; the
workflows they serve stay deterministic.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.apply import ApplyActivities
from activities.bookkeeping import BookkeepingActivities
from activities.lease import LeaseActivities
from activities.locks import LockActivities
from activities.operations import Operations
from activities.plan import PlanActivities
from activities.policies import PolicyEvaluator
from activities.runtime import Runtime
from integrations.endpoint import CredentialEndpoint
from integrations.sessions import RoleSessions
from observability.metrics import install_worker_meter
from observability.temporal import WorkerObserver, telemetry_runtime
from observability.tracing import configure_tracing
from providers import list_local_providers
from providers.pool import ProviderPool
from providers.schema import SchemaCache
from settings import Settings
from store import resources
from store.db import Database
from store.secrets import SecretBox
from workflows.assertions import KEY_PURPOSE, AssertionKeys, register_keys
from workflows.change import ChangeWorkflow
from workflows.drift import DriftCheckWorkflow
from workflows.lock import ProjectLockWorkflow
from workflows.lookup import (
    ProjectExportWorkflow,
    ProviderLookupWorkflow,
    ResourceDiscoveryWorkflow,
)
from workflows.temporal import connect, ensure_search_attributes, pool_queue
from workflows.ttl import ProjectTTLWorkflow

__all__ = ["WORKFLOWS", "build_worker", "run_worker", "warm_providers", "worker_runtime"]

log = logging.getLogger(__name__)

WORKFLOWS: Sequence[type] = (
    ProjectLockWorkflow,
    ChangeWorkflow,
    ProviderLookupWorkflow,
    ProjectExportWorkflow,
    ResourceDiscoveryWorkflow,
    DriftCheckWorkflow,
    ProjectTTLWorkflow,
)


@asynccontextmanager
async def worker_runtime(
    client: Client, settings: Settings, db: Database
) -> AsyncIterator[Runtime]:
    """The provider pool and friends for one worker; providers stop when it closes."""
    if os.geteuid() != 0:
        log.warning(
            "providers run as this worker's own user (uid %d) and can read what it can read "
            "(its key file, its database file): run the worker as root so they run as "
            "INTENT_PROVIDER_USER instead (docs/security.md)",
            os.geteuid(),
        )
    box = SecretBox.from_settings(settings)
    # The worker is where sealed configs and states are opened (store.types).
    db.use_secrets(box, may_open=True)
    pool = ProviderPool(
        settings,
        schema_cache=SchemaCache.from_settings(settings),
        runtime_dir=settings.provider_runtime_dir,
    )
    # Cloud sessions assumed from the worker's own credentials, served to providers.
    credentials = CredentialEndpoint(
        RoleSessions(
            renew_before=settings.aws_renew_before_seconds, principal=settings.aws_principal_arn
        ),
        idle_seconds=settings.provider_idle_seconds,
    )
    await credentials.start()
    try:
        yield Runtime(
            settings=settings,
            db=db,
            temporal=client,
            pool=pool,
            box=box,
            credentials=credentials,
        )
    finally:
        await pool.aclose()
        await credentials.aclose()


def build_worker(client: Client, settings: Settings, db: Database, runtime: Runtime) -> Worker:
    from activities.discovery import DiscoveryActivities
    from activities.drift import DriftActivities
    from activities.export import ExportActivities
    from activities.lookup import LookupActivities
    from activities.ttl import TtlActivities

    # Update validators check actor assertions against the keys of this task queue.
    register_keys(
        settings.temporal_task_queue,
        AssertionKeys(
            keys=tuple(runtime.box.derived_keys(KEY_PURPOSE)),
            temporal_ui_operators=settings.temporal_ui_operators,
        ),
    )
    locks = LockActivities(db)
    operations = Operations(runtime)
    lease = LeaseActivities(runtime)
    plan = PlanActivities(runtime, operations, lease, PolicyEvaluator(db, settings))
    apply = ApplyActivities(runtime, operations, lease)
    bookkeeping = BookkeepingActivities(db)
    lookups = LookupActivities(runtime)
    exports = ExportActivities(runtime)
    discovery = DiscoveryActivities(runtime)
    drift = DriftActivities(runtime)
    ttl = TtlActivities(runtime)
    # The provider work: what a worker pool's workers run for their projects.
    provider_work: list[Callable[..., Any]] = [
        plan.plan_change,
        apply.apply_change,
        *lookups.activities(),
        exports.export_project,
        discovery.discover_resources,
        drift.check_drift,
    ]
    if settings.worker_pool:
        return Worker(
            client,
            task_queue=pool_queue(settings.worker_pool),
            activities=provider_work,
            max_concurrent_activities=settings.worker_max_activities,
            interceptors=[WorkerObserver()],
        )
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            locks.mirror_lock,
            lease.check_lease,
            bookkeeping.record_stage,
            *provider_work,
            drift.drift_target,
            ttl.expiry,
            ttl.warn,
            ttl.claim_lock,
            ttl.start_cleanup,
            ttl.follow_cleanup,
            ttl.finish,
        ],
        max_concurrent_activities=settings.worker_max_activities,
        interceptors=[WorkerObserver()],
    )


async def warm_providers(runtime: Runtime) -> None:
    """Install the providers in use (and, with the sandbox on, the AWS provider new
    projects use when it is available locally) and load their schemas, in the
    background: the first change then finds them ready. No process is started
    configured ahead: each change acts in a cloud session of its own (the sandbox's
    too), so it could serve none of them. Best effort."""
    async with runtime.db.session() as session:
        wanted: set[tuple[str, str | None]] = set(await resources.providers_in_use(session))
    sandbox = runtime.settings.sandbox and bool(
        await list_local_providers(runtime.settings, "hashicorp/aws")
    )
    if sandbox:
        wanted.add(("hashicorp/aws", None))
    for source, version in sorted(wanted, key=lambda pair: (pair[0], pair[1] or "")):
        try:
            installed = await runtime.install(source, version)
            await runtime.pool.schema(installed)
        except Exception as exc:  # a provider that cannot be warmed is reported when used
            log.warning("could not warm provider %s %s: %s", source, version or "", exc)


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then drain in-flight activity attempts and stop."""
    configure_tracing(settings, "intent-worker")
    telemetry = telemetry_runtime(settings, metrics=True)
    install_worker_meter(telemetry.metric_meter)
    if settings.metrics_port is not None:
        log.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
    db = Database(settings.resolved_database_url)
    db.use_secrets(SecretBox.from_settings(settings), may_open=True)
    await db.migrate()
    client = await connect(settings, runtime=telemetry)
    await ensure_search_attributes(client, settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    queue = pool_queue(settings.worker_pool) if settings.worker_pool else None
    log.info("worker polling task queue %s", queue or settings.temporal_task_queue)
    try:
        async with (
            worker_runtime(client, settings, db) as runtime,
            build_worker(client, settings, db, runtime),
        ):
            warming = asyncio.create_task(warm_providers(runtime))
            await stop.wait()
            warming.cancel()
    finally:
        await db.dispose()
