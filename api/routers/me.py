"""REST: who am I, and which project am I working in?"""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Actor
from api.deps import ActorDep, CallerDep
from api.services import project_overview

router = APIRouter(tags=["identity"])


@router.get("/me", response_model=Actor)
async def me(actor: ActorDep) -> Actor:
    return actor


@router.get("/me/project", response_model=project_overview.CurrentProject)
async def current_project(caller: CallerDep) -> project_overview.CurrentProject:
    """The project whose lock you hold (what tools act on when no project is named)."""
    return await project_overview.current_project(caller)
