"""The worker entry point: runs workflows and the activities that touch the world.

Only activities reach providers, the registry, the database or the clock; the
workflows they serve stay deterministic.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from temporalio.client import Client
from temporalio.worker import Worker

from activities.locks import LockActivities
from settings import Settings
from store.db import Database
from workflows.lock import ProjectLockWorkflow
from workflows.temporal import connect, ensure_search_attributes

__all__ = ["WORKFLOWS", "build_worker", "run_worker"]

log = logging.getLogger(__name__)

WORKFLOWS: Sequence[type] = (ProjectLockWorkflow,)


def build_worker(client: Client, settings: Settings, db: Database) -> Worker:
    locks = LockActivities(db)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(WORKFLOWS),
        activities=[locks.mirror_lock],
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then drain in-flight activity attempts and stop."""
    db = Database(settings.resolved_database_url)
    await db.migrate()
    client = await connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    worker = build_worker(client, settings, db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling task queue %s", settings.temporal_task_queue)
    try:
        async with worker:
            await stop.wait()
    finally:
        await db.dispose()
