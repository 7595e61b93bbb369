"""REST: /api/v1/audit, the authentication audit trail (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CallerDep
from api.services import audit as svc

router = APIRouter(prefix="/audit", tags=["identity"])


@router.get("", response_model=svc.AuthEventPage)
async def list_events(
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
    event: str | None = None,
    subject: str | None = None,
) -> svc.AuthEventPage:
    return await svc.list_events(caller, limit=limit, cursor=cursor, event=event, subject=subject)
