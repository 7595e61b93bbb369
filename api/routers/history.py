"""REST: a project's history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CallerDep
from api.services.history import HistoryPage, project_history

router = APIRouter(tags=["history"])


@router.get("/projects/{ref}/history", response_model=HistoryPage)
async def history(
    caller: CallerDep,
    ref: str,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    resource_id: str | None = None,
    change_id: str | None = None,
) -> HistoryPage:
    return await project_history(
        caller, ref, resource_id=resource_id, change_id=change_id, limit=limit, cursor=cursor
    )
