"""``/healthz``: can this process reach its database and Temporal?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.deps import AppDep

router = APIRouter(tags=["health"])

_PROBE_SECONDS = 3.0


async def _check_db(app: AppDep) -> str:
    try:
        await asyncio.wait_for(app.db.ping(), _PROBE_SECONDS)
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


async def _check_temporal(app: AppDep) -> str:
    try:
        client = await asyncio.wait_for(app.temporal.get(), _PROBE_SECONDS)
        await asyncio.wait_for(
            client.workflow_service.get_system_info(GetSystemInfoRequest()), _PROBE_SECONDS
        )
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return f"error: {message}"
    return "ok"


@router.get("/healthz")
async def healthz(app: AppDep) -> JSONResponse:
    database, temporal = await asyncio.gather(_check_db(app), _check_temporal(app))
    ok = database == "ok" and temporal == "ok"
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "database": database, "temporal": temporal},
        status_code=200 if ok else 503,
    )
