"""Worker pools: where a project's provider work runs, and whether anyone runs it.

A project may name a pool (its provider work then goes to the task queue
``intent-pool-NAME``, served by ``intent worker --pool NAME`` inside the network that
holds its credentials). Choosing it is a space admin's decision: it decides which
machines get the project's credentials. A pool nobody serves is reported where people
look — the change's status, ``/healthz``, ``GET /pools`` — instead of a silent wait.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from sqlalchemy import select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from access.permissions import ADMIN
from api.context import AppContext, Caller
from api.errors import Invalid
from api.services.access import readable, require
from api.services.projects import located
from settings import POOL_NAME, Settings
from store import history
from store.models import Project
from workflows.models import ChangeView
from workflows.temporal import pool_queue

__all__ = [
    "PoolView",
    "list_pools",
    "pool_health",
    "pool_workers",
    "pools_in_use",
    "set_pool",
    "with_notice",
]

_PROBE_SECONDS = 3.0


class PoolView(BaseModel):
    pool: str
    task_queue: str
    workers: int | None  # None: Temporal did not answer
    projects: list[str]


async def pool_workers(client: Client, settings: Settings, pool: str) -> int | None:
    """How many workers poll the pool's task queue now (None: unknown)."""
    try:
        described = await asyncio.wait_for(
            client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=settings.temporal_namespace,
                    task_queue=TaskQueue(name=pool_queue(pool)),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                )
            ),
            _PROBE_SECONDS,
        )
    except Exception:
        return None
    return len(described.pollers)


def _idle_message(pool: str) -> str:
    return (
        f"no worker of pool {pool} is running (task queue {pool_queue(pool)}): start "
        f"`intent worker --pool {pool}` in the network that holds the project's credentials"
    )


async def with_notice(caller: Caller, view: ChangeView) -> ChangeView:
    """A change waiting on provider work of a pool nobody serves says so."""
    pool = view.project.pool
    if not pool or view.status not in ("planning", "applying"):
        return view
    workers = await pool_workers(await caller.temporal(), caller.settings, pool)
    if workers != 0:
        return view
    return view.model_copy(update={"waiting_for": [*view.waiting_for, _idle_message(pool)]})


async def pools_in_use(app: AppContext) -> dict[str, list[str]]:
    """Pool → the projects that name it."""
    async with app.db.session() as session:
        rows = (
            await session.execute(
                select(Project.pool, Project.name).where(Project.pool.is_not(None))
            )
        ).all()
    found: dict[str, list[str]] = {}
    for pool, name in rows:
        found.setdefault(str(pool), []).append(name)
    return found


async def pool_health(app: AppContext, client: Client) -> dict[str, str]:
    """For ``/healthz``: each pool in use, "ok" or what is missing."""
    pools = await pools_in_use(app)
    counts = await asyncio.gather(*(pool_workers(client, app.settings, p) for p in pools))
    return {
        pool: "ok" if count else ("unknown" if count is None else _idle_message(pool))
        for pool, count in zip(pools, counts, strict=True)
    }


async def list_pools(caller: Caller) -> list[PoolView]:
    """The pools the projects the caller may read name, and their workers."""
    visible = await readable(caller, "intent-project:read")
    async with caller.db.session() as session:
        rows = (
            await session.execute(
                select(Project.pool, Project.name, Project.space_id).where(
                    Project.pool.is_not(None)
                )
            )
        ).all()
    projects: dict[str, list[str]] = {}
    for pool, name, space in rows:
        if space in visible:
            projects.setdefault(str(pool), []).append(name)
    client = await caller.temporal()
    counts = await asyncio.gather(*(pool_workers(client, caller.settings, p) for p in projects))
    return [
        PoolView(pool=pool, task_queue=pool_queue(pool), workers=count, projects=sorted(names))
        for (pool, names), count in zip(sorted(projects.items()), counts, strict=True)
    ]


async def set_pool(caller: Caller, ref: str, pool: str | None) -> str | None:
    """Route a project's provider work to ``pool`` (None: the default workers)."""
    if pool is not None and not POOL_NAME.match(pool):
        raise Invalid(
            f"{pool[:60]!r} is not a pool name: lower-case letters, digits and dashes, e.g. "
            "prod-vpc"
        )
    project, path = await located(caller, ref)
    # Which machines receive the project's credentials is an admin's decision.
    require(caller, ADMIN, path)
    async with caller.db.transaction() as session:
        row = await session.get(Project, project.id)
        assert row is not None
        before, row.pool = row.pool, pool
        await history.record(
            session,
            subject="project",
            operation="pool",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            before={"pool": before},
            after={"pool": pool},
        )
    return pool
