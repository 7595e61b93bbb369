"""``/healthz``: can this process reach its database and Temporal, and is a worker up?

The status code follows what this server itself needs (database, Temporal): a missing
worker makes changes wait, not this server fail, so it shows as "degraded" with 200.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest

from api.deps import AppDep
from api.services.pools import pool_health

router = APIRouter(tags=["health"])

_PROBE_SECONDS = 3.0


def _error(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"error: {message}"


async def _check_db(app: AppDep) -> str:
    try:
        await asyncio.wait_for(app.db.ping(), _PROBE_SECONDS)
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


async def _check_temporal(app: AppDep) -> tuple[str, str]:
    """(temporal, workers)"""
    queue = app.settings.temporal_task_queue
    try:
        client = await asyncio.wait_for(app.temporal.get(), _PROBE_SECONDS)
        service = client.workflow_service
        await asyncio.wait_for(service.get_system_info(GetSystemInfoRequest()), _PROBE_SECONDS)
    except Exception as exc:
        return _error(exc), "unknown: Temporal is unreachable"
    try:
        described = await asyncio.wait_for(
            service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=app.settings.temporal_namespace,
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            ),
            _PROBE_SECONDS,
        )
    except Exception as exc:
        return "ok", _error(exc)
    if not described.pollers:
        return "ok", f"no worker is polling task queue {queue}; start one with `intent worker`"
    return "ok", "ok"


async def _check_pools(app: AppDep) -> dict[str, str]:
    """Each worker pool a project names: does a worker serve it?"""
    try:
        client = await asyncio.wait_for(app.temporal.get(), _PROBE_SECONDS)
        return await pool_health(app, client)
    except Exception as exc:
        return {"(pools)": _error(exc)}


@router.get("/healthz")
async def healthz(app: AppDep) -> JSONResponse:
    database, (temporal, workers) = await asyncio.gather(_check_db(app), _check_temporal(app))
    serving = database == "ok" and temporal == "ok"
    pools = await _check_pools(app) if serving else {}
    healthy = serving and workers == "ok" and all(v == "ok" for v in pools.values())
    return JSONResponse(
        {
            "status": "ok" if healthy else "degraded",
            "database": database,
            "temporal": temporal,
            "workers": workers,
            # Only where a project names a worker pool.
            **({"pools": pools} if pools else {}),
            "instance": app.settings.instance_id,
        },
        status_code=200 if serving else 503,
    )
